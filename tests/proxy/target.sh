#!/usr/bin/env bash
# What the proxy forwards, end to end over HTTP/3 (libcurl through
# h3client, which sends the targets as written: --path-as-is):
#  1. The request target is normalized once (datapath/proxy/path.h): a
#     route `path_prefix = /public/` in front of a file server (python's
#     http.server, which resolves "..", "%2e%2e" and "..%2f" itself) cannot
#     be escaped to a secret beside /public/: every traversal form gets 400
#     or 404, never the secret; legitimate targets work, and the backend
#     sees the normalized target.
#  2. A backend response with both Content-Length and Transfer-Encoding
#     (RFC 9112 6.3 rule 3) reaches the client without Content-Length, with
#     its chunked body, and its backend connection is not used again.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
proxy_test_args "$@"
make_cert "$RG_TMP" restricted.test
ADMIN=http://127.0.0.1:8082

mkdir -p www/public/sub
echo "TOP SECRET: outside /public/" >www/secret.txt
echo "public x" >www/public/x
echo "public a b" >"www/public/a b.txt"
# its log in append mode: truncated below after the direct probe
python3 -m http.server 9103 --bind 127.0.0.1 --directory www 2>>files.log >/dev/null &
RG_PIDS+=($!)
CONNLOG=$RG_TMP/conn.log python3 "$BACKEND" 9101 A & RG_PIDS+=($!)

cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433

[vhost restricted.test]
cert = $RG_TMP/restricted.test.crt
key = $RG_TMP/restricted.test.key

[backend files]
server = 127.0.0.1:9103

[backend a]
server = 127.0.0.1:9101

[route public]
host = restricted.test
path_prefix = /public/
backend = files

[route api]
host = restricted.test
path_prefix = /api
backend = a
INI
for p in 9101 9103; do
	wait_for 30 curl -s -o /dev/null http://127.0.0.1:$p/ || fail "backend on $p did not start"
done
# the file server itself gives the secret away to a raw ".." (the hole the
# route must not open)
[[ $(curl -s --path-as-is http://127.0.0.1:9103/public/../secret.txt) == "TOP SECRET"* ]] ||
	fail "the file server does not resolve '..' itself: this test would prove nothing"
: >files.log
"$RG" -c rg.ini 2>rg.log &
RGPID=$!
RG_PIDS+=("$RGPID")
wait_for 10 curl -sf $ADMIN/health || { cat rg.log >&2; fail "ringgate did not start"; }

h3() { "$H3" --cacert "$RG_TMP/restricted.test.crt" --resolve restricted.test:4433:127.0.0.1 \
	--connect-timeout 20 --path-as-is "$@"; }
U=https://restricted.test:4433
sha() { sha256sum "$1" | cut -d' ' -f1; }
SECRET=$(sha www/secret.txt)

# 1. traversal forms: 400 (refused) or 404 (normalized outside every route)
forms=(
	/public/../secret.txt /public/%2e%2e/secret.txt /public/%2E%2E/secret.txt
	/public/.%2e/secret.txt /public/%2e./secret.txt /public/..%2fsecret.txt
	/public/..%2Fsecret.txt /public/%2e%2e%2fsecret.txt /public/.%2e%2Fsecret.txt
	/public/..%5csecret.txt /public/..%5Csecret.txt /public/..\\secret.txt
	/public/..\;/secret.txt /public/..%3b/secret.txt /public/../../secret.txt
	/public/sub/../../secret.txt /public/./../secret.txt /%70ublic/../secret.txt
	/public/%2e%2e/%2e%2e/secret.txt /public/..%00/secret.txt /public/%252e%252e/secret.txt
	/public/%252e%252e%252fsecret.txt "/public/..%2fsecret.txt?x=1"
)
h3 "${forms[@]/#/$U}" >trav.out 2>trav.err
n=0
while read -r status bytes hash; do
	[[ $status == summary ]] && continue
	form=${forms[n++]}
	[[ $hash != "$SECRET" ]] || fail "$form: the secret came back (status $status)"
	[[ $status == 400 || $status == 404 ]] || { cat trav.out >&2; fail "$form: status $status, not 400 or 404"; }
	note "$form -> $status"
done <trav.out
(( n == ${#forms[@]} )) || { cat trav.out trav.err >&2; fail "$n answers for ${#forms[@]} traversal forms"; }
# (the double-encoded forms reach it as names with a literal "%2e": 404)
grep -q 'secret.*" 200' files.log && { cat files.log >&2; fail "the file server served the secret"; }

# legitimate targets still work, and the file server saw them normalized
h3 "$U/public/a%20b.txt" "$U/public/./x" "$U/public/sub/../x" "$U/public/%78" >legit.out 2>legit.err ||
	{ cat legit.out legit.err >&2; fail "legitimate targets"; }
mapfile -t legit <legit.out
[[ ${legit[0]} == "200 $(stat -c %s "www/public/a b.txt") $(sha "www/public/a b.txt")" ]] ||
	{ cat legit.out >&2; fail "/public/a%20b.txt: ${legit[0]}"; }
for i in 1 2 3; do
	[[ ${legit[i]} == "200 $(stat -c %s www/public/x) $(sha www/public/x)" ]] ||
		{ cat legit.out >&2; fail "target $i of /public/x: ${legit[i]}"; }
done
grep -q '"GET /public/a%20b.txt HTTP/1.1"' files.log || { cat files.log >&2; fail "a%20b not forwarded as is"; }
(( $(grep -c '"GET /public/x HTTP/1.1"' files.log) == 3 )) ||
	{ cat files.log >&2; fail "/public/./x, /public/sub/../x, /public/%78 not forwarded as /public/x"; }
grep -q '/\.\|%2e\|%78' files.log && { cat files.log >&2; fail "a dot segment or escape reached the backend"; }
note "legitimate targets: ok"

# 2. Content-Length beside Transfer-Encoding: dropped, the 5 chunked bytes
# arrive; and the next request on the same QUIC connection (same worker)
# gets a fresh backend connection while two plain ones share theirs
h3 --verbose $U/api/te-cl >tecl.out 2>tecl.err
grep -q "^summary ok=1 failed=0" tecl.out && grep -q "^200 5 $(printf hello | sha256sum | cut -d' ' -f1)\$" tecl.out ||
	{ cat tecl.out >&2; grep -i "content-length\|h3client" tecl.err >&2; fail "te-cl: not 200 with the 5 chunked bytes"; }
grep -qi '^< content-length' tecl.err && { grep -i '^< ' tecl.err >&2; fail "te-cl: content-length forwarded"; }
grep -qi '^< x-content-type-options\|^< date\|^< server' tecl.err ||
	{ cat tecl.err >&2; fail "te-cl: no response field in the verbose log: cannot tell"; }
: >conn.log
h3 --parallel 1 $U/api/conn $U/api/conn $U/api/te-cl $U/api/conn >reuse.out 2>&1 ||
	{ cat reuse.out >&2; fail "reuse sequence"; }
mapfile -t port < <(cut -d' ' -f1 conn.log)
(( ${#port[@]} == 4 )) || { cat conn.log >&2; fail "the backend logged ${#port[@]} requests, not 4"; }
[[ ${port[0]} == "${port[1]}" ]] || { cat conn.log >&2; fail "plain requests do not share a connection: cannot tell"; }
[[ ${port[3]} != "${port[2]}" ]] || { cat conn.log >&2; fail "the connection that carried te-cl was used again"; }
note "te-cl: no content-length, 5 bytes, connection not reused"

curl -sf $ADMIN/metrics >metrics.txt || fail "no /metrics"
rg_stop "$RGPID" rg.log
echo "target: ok"
