#!/usr/bin/env bash
# [appliance] access_log end to end (issue 20 §2): ringgate serving HTTP/3
# (h3client, libcurl) and HTTPS over TCP (curl: HTTP/2 and HTTP/1.1) in
# front of tests/proxy/backend.py, with the access log on.
#  - every request is one line of JSON with the right proto, status,
#    method, path (as received, escaped), TLS version and group (the label
#    ringgate_tls_handshakes_total counted), body bytes both ways,
#    upstream and route; a 404 (no route) has upstream "-";
#  - the answers a front end makes before the proxy sees the request
#    (HTTP/1.1 400 for an unparsable request line, 431 for a head over
#    max_header_bytes, 408 for a head stopped past header_timeout; HTTP/2 and HTTP/3 431 for a field section over the limit) and
#    [redirect]'s 308 and 421 are lines too, with "-" for what is not known;
#  - logrotate: after `mv` of the file and a reload the next lines go to
#    the new file, none to the moved one;
#  - --validate refuses a log in a directory that does not exist, with
#    FILE:LINE and the reason.
# Args: ringgate h3client BACKEND_PY
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
proxy_test_args "$@"
make_cert "$RG_TMP" localhost
chmod 600 localhost.key
ADMIN=http://127.0.0.1:8082
TLS_PORT=8443
HTTP_PORT=8080
LOG=$RG_TMP/logs/access.log
mkdir -p logs

conf() { # ACCESS_LOG
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082
access_log = $1

[quic]
listen = 127.0.0.1:$PORT

[https]
listen = 127.0.0.1:$TLS_PORT
header_timeout = 1s

[redirect]
listen = 127.0.0.1:$HTTP_PORT

$(rg_site_ini 9321 api /api)
INI
}

# ---- --validate: a directory that does not exist ----
conf "$RG_TMP/no/such/dir/access.log"
out=$("$RG" --validate -c rg.ini 2>&1) && fail "--validate accepted an access_log in a missing directory"
line=$(grep -n '^access_log' rg.ini | cut -d: -f1)
grep -q "rg.ini:$line: \[appliance\] access_log = $RG_TMP/no/such/dir/access.log: .*No such file or directory" <<<"$out" ||
	fail "--validate said: $out"
note "--validate: $out"

conf "$LOG"
"$RG" --validate -c rg.ini >/dev/null 2>&1 || fail "--validate refused a writable access_log"
python3 "$BACKEND" 9321 be >/dev/null 2>&1 &
RG_PIDS+=($!)
wait_for 10 curl -sf http://127.0.0.1:9321/x || fail "backend did not start"
rg_start
wait_for 10 curl -sf --cacert localhost.crt "https://localhost:$TLS_PORT/api/warm" -o /dev/null ||
	{ cat rg.log >&2; fail "ringgate does not serve HTTPS on $TLS_PORT"; }

h3() { timeout 30 "$H3" --cacert "$RG_TMP/localhost.crt" --resolve "localhost:$PORT:127.0.0.1" --connect-timeout 20 "$@"; }
tcurl() { timeout 20 curl -s --cacert localhost.crt "$@"; }

head -c 1000 /dev/urandom >post.bin
h3 "https://localhost:$PORT/api/bytes/1234" >h3.out 2>&1 || { cat h3.out >&2; fail "h3 request"; }
grep -q '^200 1234 ' h3.out || fail "h3: $(cat h3.out)"
h3 "https://localhost:$PORT/nope/h3" >h3b.out 2>&1 || { cat h3b.out >&2; fail "h3 404 request"; }
grep -q '^404 ' h3b.out || fail "h3 404: $(cat h3b.out)"
v=$(tcurl --http2 -o /dev/null -w '%{http_code} %{http_version} %{size_download}' "https://localhost:$TLS_PORT/api/bytes/777")
[[ $v == "200 2 777" ]] || fail "curl --http2: '$v'"
v=$(tcurl --http1.1 -o /dev/null -w '%{http_code} %{http_version} %{size_download}' \
	--data-binary @post.bin "https://localhost:$TLS_PORT/api/echo")
[[ $v == "200 1.1 1000" ]] || fail "curl --http1.1 POST: '$v'"
v=$(tcurl --http1.1 --path-as-is -o /dev/null -w '%{http_code}' "https://localhost:$TLS_PORT/nope/./a/../%22q%5C?a=%01")
[[ $v == 400 ]] || fail "curl --http1.1 refused target: '$v'" # path.h: %5C, %01
v=$(tcurl --http1.1 -o /dev/null -w '%{http_code}' "https://localhost:$TLS_PORT/nope/h1")
[[ $v == 404 ]] || fail "curl --http1.1 no route: '$v'"

# the groups the server counted, by transport: each client here uses one
# (on the gnutls build h3client gets X25519, curl over TCP another); the
# log must name the same labels
groups() { # quic|tcp
	curl -sf $ADMIN/metrics | awk -v p="proto=\"$1\"" '/^ringgate_tls_handshakes_total\{/ && index($0, p) && $2 > 0 {
		match($0, /group="[^"]*"/); print substr($0, RSTART + 7, RLENGTH - 8) }' | sort -u
}
gq=$(groups quic) gt=$(groups tcp)
[[ $(wc -l <<<"$gq") == 1 && -n $gq ]] || fail "QUIC handshake groups: $(echo $gq)"
[[ $(wc -l <<<"$gt") == 1 && -n $gt ]] || fail "TCP handshake groups: $(echo $gt)"
note "handshake groups (metrics): quic $gq, tcp $gt"

lines() { [[ -f $1 ]] && (($(wc -l <"$1") >= $2)); }
wait_for 10 lines "$LOG" 7 || { cat "$LOG" >&2; fail "access log: $(wc -l <"$LOG" 2>/dev/null) lines, want 7 (the warm-up too)"; }

python3 - "$LOG" "$gq" "$gt" <<'PY' || fail "access log lines"
import json, sys, datetime
path, gq, gt = sys.argv[1], sys.argv[2], sys.argv[3]
recs = []
for n, raw in enumerate(open(path, "rb"), 1):
    try:
        recs.append(json.loads(raw))
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, raw))
def one(p):
    m = [r for r in recs if r["path"] == p]
    if len(m) != 1:
        sys.exit("%d lines for path %r: %r" % (len(m), p, recs))
    return m[0]
def want(r, **kv):
    for k, v in kv.items():
        if r.get(k) != v:
            sys.exit("%s: %s = %r, want %r (%r)" % (r["path"], k, r.get(k), v, r))
for r in recs:
    datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    group = gq if r["proto"] == "h3" else gt
    if not r["client"].startswith("127.0.0.1:") or r["tls"] != "TLSv1.3" or r["group"] != group:
        sys.exit("client/tls/group: %r" % r)
    if not isinstance(r["duration_ms"], float) or r["duration_ms"] < 0 or r["duration_ms"] > 30000:
        sys.exit("duration: %r" % r)
    want(r, sni="localhost", early_data=False, path_cut=False)
want(one("/api/bytes/1234"), proto="h3", status=200, method="GET", rx_bytes=0, tx_bytes=1234,
     upstream="127.0.0.1:9321", route="api", host="localhost:4433")
want(one("/nope/h3"), proto="h3", status=404, method="GET", upstream="-", route="-")
want(one("/api/bytes/777"), proto="h2", status=200, method="GET", rx_bytes=0, tx_bytes=777,
     upstream="127.0.0.1:9321", route="api")
want(one("/api/echo"), proto="http/1.1", status=200, method="POST", rx_bytes=1000, tx_bytes=1000,
     upstream="127.0.0.1:9321", route="api", host="localhost:8443")
# the target as received, escaped in the JSON text and read back exactly
want(one('/nope/./a/../%22q%5C?a=%01'), proto="http/1.1", status=400, upstream="-", route="-")
want(one("/nope/h1"), proto="http/1.1", status=404, method="GET", upstream="-", route="-", tx_bytes=9)
print("ok: %d lines" % len(recs))
PY
note "7 lines (a warm-up and): h3, h2, http/1.1 (200s, 404s, a 400) parse as JSON with the fields wanted"

# ---- answers the front ends make themselves, and [redirect]'s ----
n0=$(wc -l <"$LOG")
big=$(head -c 20000 /dev/zero | tr '\0' a)
# a space in the method: "BAD METHOD /h1-bad HTTP/1.1" is no request line
v=$(tcurl --http1.1 -o /dev/null -w '%{http_code}' -X 'BAD METHOD' "https://localhost:$TLS_PORT/h1-bad")
[[ $v == 400 ]] || fail "h1 malformed request line: '$v'"
v=$(tcurl --http1.1 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "https://localhost:$TLS_PORT/h1-big")
[[ $v == 431 ]] || fail "h1 head over max_header_bytes: '$v'"
v=$(tcurl --http2 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "https://localhost:$TLS_PORT/h2-big")
[[ $v == 431 ]] || fail "h2 field section over max_header_bytes: '$v'"
# a head that stops after its request line: 408 once header_timeout (1 s) passed
python3 - "$TLS_PORT" localhost.crt >h1slow.out 2>&1 <<'PY' || { cat h1slow.out >&2; fail "h1 header timeout"; }
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.set_alpn_protocols(["http/1.1"])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /h1-slow HTTP/1.1\r\nHost: localhost\r\n")
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
if not got.startswith(b"HTTP/1.1 408 "):
    sys.exit("got %r" % got[:100])
PY
h3 --header "X-Big: $big" "https://localhost:$PORT/h3-big" >h3d.out 2>&1
h3_431=0
if grep -q '^431 ' h3d.out; then
	h3_431=1
else
	note "SKIP h3 431: h3client did not get a 431 for a 20000-byte field ($(head -c 200 h3d.out))"
fi
v=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: localhost' "http://127.0.0.1:$HTTP_PORT/r-308?q=1")
[[ $v == 308 ]] || fail "[redirect] 308: '$v'"
v=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/r-421")
[[ $v == 421 ]] || fail "[redirect] 421: '$v'"
want_n=$((n0 + 6 + h3_431))
wait_for 10 lines "$LOG" $want_n || { cat "$LOG" >&2; fail "access log: $(wc -l <"$LOG") lines, want $want_n"; }
python3 - "$LOG" "$n0" "$h3_431" "$gq" "$gt" <<'PY' || fail "access log lines of the front ends' answers"
import json, sys
path, n0, h3_431, gq, gt = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5]
recs = [json.loads(l) for l in open(path, "rb").read().splitlines()[n0:]]
def find(**kv):
    m = [r for r in recs if all(r.get(k) == v for k, v in kv.items())]
    if len(m) != 1:
        sys.exit("%d lines with %r: %r" % (len(m), kv, recs))
    return m[0]
common = dict(upstream="-", route="-", rx_bytes=0, tx_bytes=0, early_data=False)
def check(r, **kv):
    kv = dict(common, **kv)
    for k, v in kv.items():
        if r.get(k) != v:
            sys.exit("%s = %r, want %r (%r)" % (k, r.get(k), v, r))
    if not r["client"].startswith("127.0.0.1:"):
        sys.exit("client: %r" % r)
# h1 400: nothing of the head is known
check(find(status=400, proto="http/1.1", tls="TLSv1.3"), method="-", path="", host="-",
      sni="localhost", group=gt)
# h1 431: the request line was valid (method and target known), Host not
check(find(status=431, proto="http/1.1"), method="GET", path="/h1-big", host="-",
      sni="localhost", tls="TLSv1.3", group=gt)
# h1 408: the request line had come
check(find(status=408, proto="http/1.1"), method="GET", path="/h1-slow", host="-",
      sni="localhost", tls="TLSv1.3", group=gt)
# h2 431: the pseudo-header fields came before the field over the limit
check(find(status=431, proto="h2"), method="GET", path="/h2-big", host="localhost:8443",
      sni="localhost", tls="TLSv1.3", group=gt)
if h3_431:
    check(find(status=431, proto="h3"), method="GET", path="/h3-big", host="localhost:4433",
          sni="localhost", tls="TLSv1.3", group=gq)
# [redirect]: plain HTTP
check(find(status=308), proto="http/1.1", tls="-", group="-", sni="-", method="GET",
      path="/r-308?q=1", host="localhost", resumed=False)
check(find(status=421), proto="http/1.1", tls="-", group="-", sni="-", method="GET",
      path="/r-421", host="127.0.0.1:%s" % "8080")
print("ok: %d lines" % len(recs))
PY
note "front ends' answers logged: h1 400, 431 and 408, h2 431, [redirect] 308 and 421$( ((h3_431)) && echo ', h3 431')"

# ---- logrotate: move the file, reload, the new lines go to a new file ----
mv "$LOG" "$LOG.1"
n1=$(wc -l <"$LOG.1")
gen() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["config_generation"] if all(x == s["config_generation"] for x in s["worker_generations"]) else -1)'; }
gen_is() { [[ $(gen) == "$1" ]]; }
g0=$(gen)
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 200 ]] || { cat body >&2; fail "reload: HTTP $code"; }
wait_for 5 gen_is $((g0 + 1)) || fail "workers not on generation $((g0 + 1))"
[[ -f $LOG ]] || fail "the reload did not create a new $LOG"
for i in 1 2 3 4; do # both workers, whichever takes the connection
	v=$(tcurl --http1.1 -o /dev/null -w '%{http_code}' "https://localhost:$TLS_PORT/api/after-$i")
	[[ $v == 200 ]] || fail "after the reload: $v"
done
h3 "https://localhost:$PORT/api/after-h3" >h3c.out 2>&1 || { cat h3c.out >&2; fail "h3 after reload"; }
wait_for 10 lines "$LOG" 5 || { cat "$LOG" >&2; fail "new log: $(wc -l <"$LOG") lines, want 5"; }
grep -q '"path":"/api/after-h3"' "$LOG" || fail "the h3 request after the reload is not in the new file"
[[ $(wc -l <"$LOG.1") == "$n1" ]] || fail "lines still go to the moved file"
grep -q after "$LOG.1" && fail "a request after the reload went to the moved file"
note "after mv + reload: $(wc -l <"$LOG") lines in the new file, the moved one kept $n1"

# ---- off by a reload: no more lines ----
conf ""
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 200 ]] || { cat body >&2; fail "reload (off): HTTP $code"; }
wait_for 5 gen_is $((g0 + 2)) || fail "workers not on generation $((g0 + 2))"
n2=$(wc -l <"$LOG")
tcurl --http2 -o /dev/null "https://localhost:$TLS_PORT/api/off" || fail "request with the log off"
sleep 0.5
[[ $(wc -l <"$LOG") == "$n2" ]] || fail "a line written with access_log off"
[[ $(metric_sum $ADMIN/metrics '^ringgate_access_log_dropped_total') == 0 ]] || fail "lines dropped"
rg_stop "$RG_PID" rg.log ringgate
echo "PASS"
