#!/bin/bash
# quic_testsrv against libcurl's HTTP/3 (ngtcp2 + gnutls inside libcurl,
# driven by h3client), certificate verified with the test CA:
#   bodies of 0 B, 1 KiB, 10 MB by sha256; a 10 MB POST echoed back;
#   600 small requests over 4 connections, all 200; 404;
#   an unknown SNI refused with an alert, and silently with anti_port_scan;
#   Retry on: the client still succeeds.
# Args: quic_testsrv h3client
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
SRV=$1 H3=$2
[[ -x $SRV ]] || fail "usage: curl.sh QUIC_TESTSRV H3CLIENT"
[[ -n $H3 && -x $H3 ]] || skip "h3client not built (no libcurl development files)"
make_cert "$RG_TMP" localhost
BASE="https://localhost:$PORT"
CURL=("$H3" --cacert "$RG_TMP/localhost.crt" --resolve "localhost:$PORT:127.0.0.1"
      --resolve "unknown.example:$PORT:127.0.0.1")

h3() { # OUT ARGS...: run h3client, output in OUT
	local out=$1; shift
	local rc=0
	timeout 120 "${CURL[@]}" "$@" >"$out" 2>"$out.err" || rc=$?
	[[ $rc -eq 77 ]] && skip "libcurl has no HTTP/3"
	return $rc
}

make_cert "$RG_TMP" other.test
start_srv main --vhost "other.test:$RG_TMP/other.test.crt:$RG_TMP/other.test.key"

# 1. bodies by checksum
h3 "$RG_TMP/bodies" "$BASE/bytes/0" "$BASE/bytes/1024" "$BASE/bytes/10000000" "$BASE/" "$BASE/nope" ||
	{ cat "$RG_TMP/bodies.err" >&2; fail "bodies: h3client failed"; }
mapfile -t lines <"$RG_TMP/bodies"
i=0
for n in 0 1024 10000000; do
	want="200 $n $(pattern_sha $n)"
	[[ ${lines[$i]} == "$want" ]] || fail "/bytes/$n: got '${lines[$i]}', want '$want'"
	i=$((i + 1))
done
[[ ${lines[3]} == "200 122 "* ]] || fail "/: got '${lines[3]}'"
[[ ${lines[4]} == "404 "* ]] || fail "/nope: got '${lines[4]}'"
note "bodies 0 B, 1 KiB, 10 MB: sha256 match; / 200; /nope 404"

# 1b. the certificate follows SNI: other.test verifies only against its own
timeout 30 "$H3" --cacert "$RG_TMP/other.test.crt" --resolve "other.test:$PORT:127.0.0.1" \
	"https://other.test:$PORT/" >"$RG_TMP/other" 2>&1 || { cat "$RG_TMP/other" >&2; fail "vhost other.test failed"; }
grep -q '^200 122 ' "$RG_TMP/other" || fail "vhost other.test: $(cat "$RG_TMP/other")"
timeout 30 "$H3" --cacert "$RG_TMP/other.test.crt" --resolve "localhost:$PORT:127.0.0.1" \
	--connect-timeout 2 "$BASE/" >"$RG_TMP/cross" 2>&1 && fail "localhost verified against other.test's certificate"
note "SNI picks the vhost certificate (other.test and localhost)"

# 2. 10 MB POST echoed back
head -c 10000000 /dev/urandom >"$RG_TMP/post.bin"
want="200 10000000 $(sha256sum <"$RG_TMP/post.bin" | cut -d' ' -f1)"
h3 "$RG_TMP/echo" --post-file "$RG_TMP/post.bin" "$BASE/echo" || { cat "$RG_TMP/echo.err" >&2; fail "echo: h3client failed"; }
[[ $(head -1 "$RG_TMP/echo") == "$want" ]] || fail "echo: got '$(head -1 "$RG_TMP/echo")', want '$want'"
note "10 MB POST /echo: sha256 match"

# 3. 600 small requests: 4 clients (4 connections), 150 each, 30 streams at once
pids=()
for c in 1 2 3 4; do
	h3 "$RG_TMP/many$c" --quiet --count 150 --parallel 30 "$BASE/" "$BASE/bytes/100" &
	pids+=($!)
done
for c in 1 2 3 4; do
	wait "${pids[$((c - 1))]}" || { cat "$RG_TMP/many$c.err" >&2; fail "many: client $c failed"; }
	grep -q '^summary ok=300 failed=0 status_200=300$' "$RG_TMP/many$c" || fail "many: client $c: $(cat "$RG_TMP/many$c")"
done
note "1200 requests over 4 connections: all 200"

# 4. unknown SNI, no anti_port_scan: the handshake fails (alert 112)
h3 "$RG_TMP/sni" --connect-timeout 2 "https://unknown.example:$PORT/" && fail "unknown SNI was served"
stop_srv
[[ $(counter sni_refused) -ge 1 ]] || fail "sni_refused $(counter sni_refused)"
[[ $(counter drop_anti_port_scan) -eq 0 ]] || fail "anti_port_scan drops without the option"
[[ $(counter conns_closed_local) -ge 1 ]] || fail "no CONNECTION_CLOSE for the unknown SNI"
[[ $(counter requests) -ge 1205 ]] || fail "requests $(counter requests)"
[[ $(counter responses_2xx) -ge 1204 ]] || fail "responses_2xx $(counter responses_2xx)"
note "main: $(grep -v ' 0$' "$RG_TMP/main.out" | tr '\n' ' ')"

# 5. unknown SNI with anti_port_scan: refused without a single datagram sent
start_srv antiscan --anti-port-scan
h3 "$RG_TMP/scan" --connect-timeout 2 "https://unknown.example:$PORT/" && fail "anti-port-scan: unknown SNI was served"
stop_srv
[[ $(counter drop_anti_port_scan) -ge 1 ]] || fail "drop_anti_port_scan $(counter drop_anti_port_scan)"
[[ $(counter tx_dgrams) -eq 0 ]] || fail "anti-port-scan: sent $(counter tx_dgrams) datagrams"
note "anti-port-scan: $(counter drop_anti_port_scan) handshakes refused, 0 datagrams sent"

# 6. Retry on: still works, and a Retry was sent
start_srv retry --retry on
h3 "$RG_TMP/retry" "$BASE/bytes/1000000" || { cat "$RG_TMP/retry.err" >&2; fail "retry: h3client failed"; }
[[ $(head -1 "$RG_TMP/retry") == "200 1000000 $(pattern_sha 1000000)" ]] || fail "retry: $(head -1 "$RG_TMP/retry")"
stop_srv
[[ $(counter retry_sent) -ge 1 ]] || fail "retry_sent $(counter retry_sent)"
[[ $(counter handshakes_completed) -ge 1 ]] || fail "retry: no handshake completed"
note "retry on: $(counter retry_sent) Retry sent, request served"
echo "PASS"
