#!/usr/bin/env bash
# The reverse proxy end to end: ringgate with a config file proxies HTTP/3
# (libcurl through h3client) to real HTTP/1.1 backends on loopback:
# python's http.server for files, tests/proxy/backend.py for echo, slow,
# broken and named answers, and a port nobody listens on.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
proxy_test_args "$@"
make_cert "$RG_TMP" localhost
make_cert "$RG_TMP" x.test.local
T0=$(date +%s%N)
lap() { note "$* ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"; T0=$(date +%s%N); }
ADMIN=http://127.0.0.1:8082

mkdir -p www/f
: >www/f/zero
head -c 1024 /dev/urandom >www/f/1k
head -c $((10 << 20)) /dev/urandom >www/f/10m
head -c $((100 << 20)) /dev/urandom >www/f/100m
python3 -m http.server 9003 --bind 127.0.0.1 --directory www >/dev/null 2>&1 &
RG_PIDS+=($!)
export CONNLOG=$RG_TMP/conn.log # which requests reached a backend (graceful stop)
HDRLOG=$RG_TMP/headers.log python3 "$BACKEND" 9001 A & RG_PIDS+=($!)
python3 "$BACKEND" 9002 B & RG_PIDS+=($!)

write_config() { # backend of /api
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433

[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key

[vhost x.test.local]
cert = $RG_TMP/x.test.local.crt
key = $RG_TMP/x.test.local.key

[backend files]
server = 127.0.0.1:9003

[backend a]
server = 127.0.0.1:9001
algorithm = round_robin
timeout = 2s

[backend b]
server = 127.0.0.1:9002

[backend dead]
server = 127.0.0.1:9009

[backend one]
server = 127.0.0.1:9001 max_conns=1

[route files]
host = localhost
path_prefix = /f
backend = files

[route api]
host = localhost
path_prefix = /api
backend = $1

[route api2]
host = localhost
path_prefix = /api/v2
backend = b

[route dead]
host = localhost
path_prefix = /dead
backend = dead

[route one]
host = localhost
path_prefix = /one
backend = one

[route wild]
host = *.test.local
backend = b
INI
}
write_config a
# python behind a pyenv shim takes seconds to listen on a loaded machine
for p in 9001 9002 9003; do
	wait_for 30 curl -s -o /dev/null http://127.0.0.1:$p/ || fail "backend on $p did not start"
done
"$RG" -c rg.ini 2>rg.log &
RGPID=$!
RG_PIDS+=("$RGPID")
wait_for 10 curl -sf $ADMIN/health || { cat rg.log >&2; fail "ringgate did not start"; }

# --connect-timeout: with ASan and a loaded machine, four clients' handshakes
# at once took over 5 s, and the 9 transfers waiting for each connection
# failed ("Timeout was reached")
h3() { "$H3" --cacert "$RG_TMP/localhost.crt" --resolve localhost:4433:127.0.0.1 --connect-timeout 20 "$@"; }
U=https://localhost:4433
sha() { sha256sum "$1" | cut -d' ' -f1; }

# bodies of 0 B, 1 KB, 10 MB, 100 MB, checked by hash
t0=$(date +%s%N)
h3 $U/f/zero $U/f/1k $U/f/10m $U/f/100m >files.out 2>files.err || { cat files.err >&2; fail "file downloads"; }
for f in zero 1k 10m 100m; do
	grep -q "^200 $(stat -c %s www/f/$f) $(sha www/f/$f)\$" files.out || { cat files.out >&2; fail "body of $f differs"; }
done
lap "files 0 B..100 MB: ok"

# 1 GB through the proxy in constant memory: the peak resident size of
# ringgate grows by far less than the body (bodies stream, never held)
truncate -s 1G www/f/1g
hwm() { awk '/^VmHWM/ { print $2 }' /proc/$RGPID/status; }
m0=$(hwm)
h3 $U/f/1g >big.out 2>big.err || { cat big.err >&2; fail "1 GB download"; }
m1=$(hwm)
grep -q "^200 1073741824 $(head -c 1G /dev/zero | sha256sum | cut -d' ' -f1)" big.out || { cat big.out >&2; fail "1 GB body wrong"; }
(( m1 - m0 < 128 * 1024 )) || fail "peak RSS grew by $(( (m1 - m0) / 1024 )) MB over a 1 GB body"
rm -f www/f/1g
lap "1 GB in constant memory: peak RSS $((m0 / 1024)) -> $((m1 / 1024)) MB"

# a chunked response with extensions and a trailer, and HEAD-less 404
h3 $U/api/chunked/100000 $U/nothing >misc.out 2>&1
grep -q "^200 100000 $(pattern_sha 100000)\$" misc.out || { cat misc.out >&2; fail "chunked response"; }
grep -q "^404 " misc.out || { cat misc.out >&2; fail "no route: not 404"; }

# a 10 MB POST echoed back (request body streamed with Content-Length)
head -c $((10 << 20)) /dev/urandom >post.bin
h3 --post-file post.bin $U/api/v2/echo >echo.out 2>echo.err || { cat echo.err >&2; fail "POST echo"; }
grep -q "^200 $((10 << 20)) $(sha post.bin)\$" echo.out || { cat echo.out >&2; fail "10 MB echo differs"; }
lap "10 MB echo: ok"

# the forwarded request: Host, X-Forwarded-*, Via
h3 $U/api/headers >/dev/null 2>&1
for want in "GET /api/headers HTTP/1.1" "Host: localhost:4433" "X-Forwarded-For: 127.0.0.1" \
	"X-Forwarded-Proto: https" "Via: 3 ringgate"; do
	grep -q "^$want" headers.log || { cat headers.log >&2; fail "forwarded head lacks '$want'"; }
done

# 3000 small requests over 4 connections
for i in 1 2 3 4; do
	h3 --count 750 --parallel 10 --quiet $U/api/small >many$i.out 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4; do
	grep -q "summary ok=750 failed=0 status_200=750" many$i.out || { tail -3 many$i.out >&2; fail "750 requests on connection $i"; }
done
lap "3000 requests: ok"

# 504: backend a answers after 5 s, its timeout is 2 s
h3 $U/api/slow/5 >slow.out 2>&1
grep -q "^504 " slow.out || { cat slow.out >&2; fail "slow backend: not 504"; }
lap "504"
# 502: connection refused, then 503 while the server rests (same worker)
h3 --count 3 --parallel 1 $U/dead/x >dead.out 2>&1
grep -q "status_502=1 status_503=2" dead.out || { cat dead.out >&2; fail "dead backend: not 502 then 503"; }
# 502: garbage and a close before any answer
h3 $U/api/garbage $U/api/close-early >bad.out 2>&1
[[ $(grep -c "^502 " bad.out) == 2 ]] || { cat bad.out >&2; fail "bad backend answers: not 502"; }
# a close mid-body: the stream is reset, the client sees a failed transfer
h3 $U/api/close-mid >mid.out 2>&1
grep -q "failed=1" mid.out || { cat mid.out >&2; fail "close mid-response: not a failed transfer"; }
lap "502, 503, reset"
# 503: max_conns=1 (per worker) with three requests at once on one connection
h3 --count 3 --parallel 3 $U/one/slow/1 >one.out 2>&1
grep -q "status_200=1 status_503=2" one.out || { cat one.out >&2; fail "max_conns: not 200 + 2x503"; }
# 431: a request head too large; 413: a body over 64 MiB
h3 "$U/api/$(head -c 20000 /dev/zero | tr '\0' a)" >big.out 2>&1
grep -q "^431 " big.out || { cat big.out >&2; fail "huge header: not 431"; }
lap "max_conns, 431"
head -c $((65 << 20)) /dev/zero >huge.bin
h3 --post-file huge.bin $U/api/v2/echo >huge.out 2>&1
grep -q "^413 " huge.out || { cat huge.out >&2; fail "huge body: not 413"; }
lap "502/503/504/431/413: ok"

# routing: longest prefix, wildcard host
h3 $U/api/x $U/api/v2/x >route.out 2>&1
"$H3" --cacert "$RG_TMP/x.test.local.crt" --resolve x.test.local:4433:127.0.0.1 https://x.test.local:4433/b/hello >>route.out 2>&1
want() { python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode() + b"\n").hexdigest())' "$1"; }
grep -q "^200 [0-9]* $(want "A /api/x")\$" route.out || { cat route.out >&2; fail "/api/x not on backend a"; }
grep -q "^200 [0-9]* $(want "B /api/v2/x")\$" route.out || { cat route.out >&2; fail "/api/v2/x not on backend b"; }
grep -q "^200 [0-9]* $(want "B /b/hello")\$" route.out || { cat route.out >&2; fail "*.test.local not on backend b"; }

# /backends
curl -sf $ADMIN/backends >backends.json || fail "/backends"
python3 - backends.json <<'PY' || { cat backends.json >&2; fail "/backends content"; }
import json, sys
d = json.load(open(sys.argv[1]))
b = {x["name"]: x for x in d["backends"]}
assert b["a"]["servers"][0]["requests"] > 3000, b["a"]
assert b["dead"]["servers"][0]["failures"] >= 1, b["dead"]
assert b["files"]["servers"][0]["address"] == "127.0.0.1:9003"
PY

# reload while 4,000 requests flow: /api moves from a to b, nothing fails
h3 --count 4000 --parallel 4 --quiet $U/api/flow >flow.out 2>&1 &
flow=$!
sleep 0.5
write_config b
kill -HUP "$RGPID"
kill -0 "$flow" 2>/dev/null || fail "the request flow ended before the reload: make it longer"
gen2() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(not all(g == 2 for g in s["worker_generations"]))'; }
wait_for 10 gen2 || fail "generation 2 not taken up"
wait "$flow"
grep -q "summary ok=4000 failed=0 status_200=4000" flow.out || { tail -3 flow.out >&2; fail "requests failed across the reload"; }
h3 $U/api/x >after.out 2>&1
grep -q "^200 [0-9]* $(want "B /api/x")\$" after.out || { cat after.out >&2; fail "after reload /api not on b"; }
# both backends served part of the flow: the reload happened mid-flow
curl -sf $ADMIN/backends >be2.json || fail "no /backends"
python3 - be2.json <<'PY' || fail "the new backend served none of the flow"
import json, sys
b = {x["name"]: x for x in json.load(open(sys.argv[1]))["backends"]}
assert b["b"]["servers"][0]["requests"] >= 1, b["b"]
PY

# a broken configuration: 400 with the errors, generation 2 stays, service unchanged
cp rg.ini rg.good
printf '\n[route broken]\nbackend = nowhere\n' >>rg.ini
code=$(curl -s -o reload.out -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 400 ]] || { cat reload.out >&2; fail "broken config: /reload answered $code, not 400"; }
grep -q "nowhere" reload.out || { cat reload.out >&2; fail "the 400 does not name the error"; }
gen2 || fail "a broken config changed the generation"
h3 --count 200 --parallel 4 --quiet $U/api/x >broken.out 2>&1
grep -q "summary ok=200 failed=0 status_200=200" broken.out || { tail -3 broken.out >&2; fail "service changed after a refused reload"; }
cp rg.good rg.ini
lap "reload: ok"

# the metrics of all this: valid Prometheus text, every request in the
# latency histogram, buckets cumulative
curl -sf $ADMIN/metrics >metrics.txt || fail "no /metrics"
promtool check metrics <metrics.txt || fail "promtool check metrics refused /metrics"
awk '$1 ~ /^ringgate_http_request_duration_seconds_count/ { s += $2 } END { exit !(s >= 7000) }' metrics.txt ||
	{ grep request_duration metrics.txt >&2; fail "the latency histogram missed requests"; }
grep -q '^ringgate_http_request_duration_seconds_bucket{worker="0",le="+Inf"}' metrics.txt || fail "no +Inf bucket"
# no allocation per request: the exchange pool stays at the concurrency's
# high-water mark (tens per worker), not the 7000 requests it served
awk '$1 ~ /^ringgate_proxy_pool_objects\{.*pool="exchange"/ { s += $2 } END { exit !(s > 0 && s <= 400) }' metrics.txt ||
	{ grep proxy_pool metrics.txt >&2; fail "the exchange pool does not bound the requests' memory"; }
grep proxy_pool metrics.txt | grep -v '^#' >&2

# graceful stop: a request in flight when SIGTERM comes finishes; meanwhile
# /health says 503 and a new connection is not accepted; then exit 0
# (SIGTERM only once the backend holds the request, on a path no other
# check uses: on a loaded machine a fixed sleep let SIGTERM come first)
h3 $U/api/slow/4.5 >drain.out 2>&1 &
inflight=$!
wait_for 30 grep -q " /api/slow/4\.5\$" "$CONNLOG" || fail "the slow request did not reach the backend"
kill -TERM "$RGPID"
health() { code=$(curl -s -o /dev/null -w '%{http_code}' $ADMIN/health); [[ $code == 503 ]]; }
wait_for 2 health || { tail -20 rg.log >&2; fail "/health answered $code while draining, not 503"; }
h3 --connect-timeout 2 $U/api/x >late.out 2>&1
grep -q "^200 " late.out && fail "a new connection was served while draining"
wait "$inflight"
grep -q "^200 " drain.out || { cat drain.out rg.log >&2; fail "the request in flight did not finish across SIGTERM"; }
wait "$RGPID" || fail "ringgate exit code $? after SIGTERM"
grep -q "draining" rg.log || fail "no drain in the log"
lap "graceful stop: ok"
rg_forget "$RGPID"
rg_clean_log rg.log
echo "proxy: ok"
