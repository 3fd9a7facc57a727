#!/usr/bin/env bash
# HTTPS over TCP under load and in operation (issue 9): h2load -n 10000
# -c 10 -m 10 all 2xx, nghttp -nv, the [redirect] server (308 Location for
# a vhost, 421 for an unknown host), a reload under load that swaps the
# certificate for new connections (openssl s_client shows the new one)
# without failing requests in flight, max_connections (idle connections
# closed to make room), and SIGTERM draining an in-flight 10 MB download.
# usage: https_ops.sh RINGGATE BACKEND_PY
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") BACKEND=$(realpath "$2")
. "$(dirname "$0")/../quic/common.sh"
cd "$RG_TMP" || fail "no temp dir"
command -v h2load >/dev/null || fail "h2load missing (nghttp2-client, tools/setup.sh)"
command -v nghttp >/dev/null || fail "nghttp missing (nghttp2-client, tools/setup.sh)"
T0=$(date +%s%N)
lap() { note "$* ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"; T0=$(date +%s%N); }

mkdir -p old new
make_cert "$RG_TMP/old" localhost
make_cert "$RG_TMP/new" localhost
cp old/localhost.crt cur.crt
cp old/localhost.key cur.key
cat old/localhost.crt new/localhost.crt >both.crt
python3 "$BACKEND" 9001 A &
RG_PIDS+=($!)
# h2load's backend: nginx (python's backend now and then refuses a
# connection under the burst, and the proxy's passive health then takes
# the server out: 503s that would not be the front end's)
mkdir -p ng
cat >ng/nginx.conf <<NG
daemon off;
master_process off;
pid $RG_TMP/ng/nginx.pid;
error_log $RG_TMP/ng/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $RG_TMP/ng/body;
	proxy_temp_path $RG_TMP/ng/proxy;
	fastcgi_temp_path $RG_TMP/ng/fcgi;
	uwsgi_temp_path $RG_TMP/ng/uwsgi;
	scgi_temp_path $RG_TMP/ng/scgi;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:9006 backlog=1024;
		location / { return 200 "hello\n"; }
	}
}
NG
nginx -c "$RG_TMP/ng/nginx.conf" -p "$RG_TMP/ng" 2>ng/stderr &
RG_PIDS+=($!)

write_config() { # max_connections
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[https]
listen = 127.0.0.1:4443
max_connections = $1
h2_max_streams = 50

[redirect]
listen = 127.0.0.1:8080

[vhost localhost]
cert = $RG_TMP/cur.crt
key = $RG_TMP/cur.key

[backend a]
server = 127.0.0.1:9001

[backend ng]
server = 127.0.0.1:9006

[route load]
host = localhost
path_prefix = /load
backend = ng

[route api]
host = localhost
path_prefix = /
backend = a
INI
}
wait_for 10 curl -sf http://127.0.0.1:9001/hello -o /dev/null || fail "backend did not start"
wait_for 10 curl -sf http://127.0.0.1:9006/ -o /dev/null || { cat ng/stderr ng/error.log >&2; fail "nginx did not start"; }
write_config 1000
"$RG" -c rg.ini >rg.log 2>&1 &
RGPID=$!
RG_PIDS+=($RGPID)
URL=https://localhost:4443
C=(curl -sS --cacert both.crt --max-time 60)
wait_for 20 "${C[@]}" -f "$URL/hello" -o /dev/null || { cat rg.log >&2; fail "ringgate does not serve HTTPS"; }
wait_for 10 "${C[@]}" -f "$URL/load" -o /dev/null || { cat ng/stderr ng/error.log >&2; fail "nginx did not start"; }
lap "started, no [quic]: the proxy runs for HTTPS alone"

# h2load: 10000 requests, 10 clients, 10 streams each, all 2xx
timeout 60 h2load -n 10000 -c 10 -m 10 "$URL/load" >h2load.out 2>&1 || { tail h2load.out >&2; fail "h2load"; }
grep -q '^requests: 10000 total, 10000 started, 10000 done, 10000 succeeded, 0 failed' h2load.out ||
	{ grep -E '^requests|^status' h2load.out >&2
	  curl -s http://127.0.0.1:8082/metrics | grep -E '^ringgate_(proxy_errors|proxy_upstream)' | grep -v ' 0$' >&2
	  grep -v " info " rg.log | head -5 >&2; fail "h2load: not every request succeeded"; }
grep -q '^status codes: 10000 2xx' h2load.out || { grep status h2load.out >&2; fail "h2load: not all 2xx"; }
grep -q 'h2' h2load.out || fail "h2load did not speak h2"
lap "h2load -n 10000 -c 10 -m 10: all 2xx"
# nghttp (nghttp2's own client) GET
timeout 20 nghttp -nv "$URL/hello" >nghttp.out 2>&1 || { tail nghttp.out >&2; fail "nghttp"; }
grep -q ':status: 200' nghttp.out || { tail nghttp.out >&2; fail "nghttp: no 200"; }
grep -q 'SETTINGS_MAX_CONCURRENT_STREAMS(0x03):50\]' nghttp.out ||
	{ grep SETTINGS nghttp.out >&2; fail "h2_max_streams = 50 not in the server's SETTINGS"; }
grep -q 'recv GOAWAY\|send GOAWAY' nghttp.out || true
lap "nghttp -nv GET"

# [redirect]: 308 to https for a vhost, 421 for a name we do not serve
curl -sS -o /dev/null -D r.hdr http://127.0.0.1:8080/a/b?c=d -H 'Host: localhost' || fail "redirect server"
grep -q '^HTTP/1.1 308' r.hdr || { cat r.hdr >&2; fail "no 308"; }
grep -qi '^location: https://localhost:4443/a/b?c=d' r.hdr || { cat r.hdr >&2; fail "bad Location"; }
code=$(curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/ -H 'Host: evil.example')
[[ $code == 421 ]] || fail "unknown host answered $code, want 421"
lap "redirect: 308 Location, 421"

# reload under load: the certificate swaps for new connections, requests
# in flight (10 MB downloads on connections made before) all complete
serial() { echo | timeout 5 openssl s_client -connect 127.0.0.1:4443 -servername localhost 2>/dev/null |
	openssl x509 -noout -serial; }
old_serial=$(openssl x509 -noout -serial -in old/localhost.crt)
new_serial=$(openssl x509 -noout -serial -in new/localhost.crt)
[[ $(serial) == "$old_serial" ]] || fail "s_client does not see the first certificate"
pids=()
for i in 1 2 3 4; do
	"${C[@]}" --http2 --limit-rate 4M "$URL/bytes/10000000" -o "dl$i" 2>"dl$i.err" &
	pids+=($!)
done
timeout 30 h2load -n 3000 -c 4 -m 4 "$URL/load" >h2load2.out 2>&1 &
hl=$!
sleep 0.7
cp new/localhost.crt cur.crt
cp new/localhost.key cur.key
curl -sf -X POST http://127.0.0.1:8082/reload -o /dev/null || fail "reload refused"
sleep 0.3
[[ $(serial) == "$new_serial" ]] || fail "a new connection does not get the new certificate"
want=$(pattern_sha 10000000)
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" || { cat "dl$i.err" >&2; fail "download $i failed across the reload"; }
	[[ $(sha256sum <"dl$i" | cut -d' ' -f1) == "$want" ]] ||
		{ ls -l "dl$i" >&2; head -c 200 "dl$i" >&2; grep -v ' info ' rg.log | tail >&2; fail "download $i corrupt across the reload"; }
done
wait $hl || true
grep -q ' 0 failed' h2load2.out || { grep requests h2load2.out >&2; fail "requests failed across the reload"; }
lap "reload under load: new certificate, nothing failed"

# max_connections (per worker): with 16 each, 60 idle keep-alive
# connections make room for new ones (the oldest idle are closed)
write_config 16
curl -sf -X POST http://127.0.0.1:8082/reload -o /dev/null || fail "reload refused"
python3 - <<'PY' || fail "max_connections: idle connections not closed to make room"
import socket, ssl, time
ctx = ssl.create_default_context(cafile="both.crt")
ctx.set_alpn_protocols(["http/1.1"])
socks = []
for i in range(60):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 4443)), server_hostname="localhost")
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
    s.settimeout(5)
    d = b""
    while not d.endswith(b"A /hello\n"):
        r = s.recv(4096)
        assert r, d
        d += r
    assert d.startswith(b"HTTP/1.1 200"), d[:40]
    socks.append(s)
time.sleep(0.3)
closed = 0
for s in socks:
    s.settimeout(0.2)
    try:
        if s.recv(4096) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
print("closed to make room:", closed)
raise SystemExit(0 if closed >= 60 - 2 * 16 else 1)
PY
# none idle (each holds a request in flight): beyond 2 x 16, refused
sleep 2.5 # the idle ones closed above have lingered out
python3 - <<'PY' || fail "max_connections: busy connections beyond the limit not refused"
import re, socket, ssl, time, urllib.request
ctx = ssl.create_default_context(cafile="both.crt")
ctx.set_alpn_protocols(["http/1.1"])
def h1_requests():
    m = urllib.request.urlopen("http://127.0.0.1:8082/metrics", timeout=5).read().decode()
    return sum(int(float(v)) for v in re.findall(r'^ringgate_https_requests_total\{[^}]*protocol="1\.1"[^}]*\} (\S+)$', m, re.M))
base = h1_requests()
busy, refused = [], 0
for i in range(48):
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 4443), timeout=5), server_hostname="localhost")
        s.sendall(b"GET /slow/10 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    except OSError:
        refused += 1
        continue
    # busy, not idle, only once ringgate has read the request: wait for
    # its counter (a fixed sleep was too short under a loaded suite, and an
    # unread request's connection counts as idle and is closed for room)
    t = time.monotonic() + 10
    while h1_requests() < base + len(busy) + 1 and time.monotonic() < t:
        time.sleep(0.02)
    if h1_requests() < base + len(busy) + 1:
        refused += 1 # taken, then closed before its request was read
        s.close()
        continue
    busy.append(s)
print("busy:", len(busy), "refused:", refused)
raise SystemExit(0 if refused >= 48 - 2 * 16 and len(busy) <= 2 * 16 else 1)
PY
curl -sf http://127.0.0.1:8082/metrics >metrics
grep -Eq '^ringgate_https_connections_refused_total\{[^}]*\} [1-9]' metrics ||
	{ grep refused metrics >&2; fail "refused connections not counted"; }
grep -Eq '^ringgate_https_connections_closed_idle_total\{[^}]*\} [1-9]' metrics ||
	{ grep closed_idle metrics >&2; fail "closed_idle_for_room not counted"; }
write_config 1000
curl -sf -X POST http://127.0.0.1:8082/reload -o /dev/null || fail "reload refused"
lap "max_connections: idle keep-alive connections closed for room"

# SIGTERM drains: an in-flight 10 MB download (HTTP/1.1 and HTTP/2) completes
"${C[@]}" --http1.1 --limit-rate 5M "$URL/bytes/10000000" -o drain1 2>drain1.err &
d1=$!
"${C[@]}" --http2 --limit-rate 5M "$URL/bytes/10000000" -o drain2 2>drain2.err &
d2=$!
sleep 0.5
kill -TERM $RGPID
wait $d1 || { cat drain1.err >&2; fail "HTTP/1.1 download cut by SIGTERM"; }
wait $d2 || { cat drain2.err >&2; fail "HTTP/2 download cut by SIGTERM"; }
[[ $(sha256sum <drain1 | cut -d' ' -f1) == "$want" ]] || fail "drained HTTP/1.1 download corrupt"
[[ $(sha256sum <drain2 | cut -d' ' -f1) == "$want" ]] || fail "drained HTTP/2 download corrupt"
rc=0
wait $RGPID || rc=$?
rg_forget $RGPID
(( rc == 0 )) || fail "exit code $rc after SIGTERM"
rg_clean_log rg.log
lap "SIGTERM: in-flight downloads completed"
echo "https_ops: ok"
