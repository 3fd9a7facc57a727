#!/usr/bin/env bash
# ringgate --demo answers HTTP/3 through the whole appliance (control
# thread, workers, io_uring ring, QUIC core), checked by clients nobody here
# wrote: libcurl's HTTP/3 with the certificate verified, and ngtcp2's
# gtlsclient. Run on both ring backends.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") H3=$2
[[ -n $H3 && -x $H3 ]] || fail "h3client (libcurl) not built: libcurl4-gnutls-dev is installed by tools/setup.sh"
H3=$(realpath "$H3")
. "$(dirname "$0")/../quic/common.sh"

for backend in uring epoll; do
	"$RG" --demo --workers 2 --ring-backend $backend 2>"$RG_TMP/$backend.log" &
	pid=$!
	RG_PIDS+=("$pid")
	wait_for 20 curl -sf http://127.0.0.1:8082/health || { cat "$RG_TMP/$backend.log" >&2; fail "$backend: no /health"; }
	curl -sf http://127.0.0.1:8082/status | grep -q "\"backend\":\"$( [[ $backend == uring ]] && echo io_uring || echo epoll)\"" ||
		fail "$backend: /status names another backend"
	dir=$(sed -n 's/.*demo: files in //p' "$RG_TMP/$backend.log")
	[[ -f $dir/localhost.pem ]] || fail "$backend: no demo certificate"

	# libcurl, certificate verified against the demo's own
	"$H3" --cacert "$dir/localhost.pem" --resolve localhost:4433:127.0.0.1 --connect-timeout 5 \
		https://localhost:4433/ https://localhost:4433/bytes/1000000 https://localhost:4433/nope \
		>"$RG_TMP/h3.out" 2>"$RG_TMP/h3.err" || { cat "$RG_TMP/h3.err" >&2; fail "$backend: h3client failed"; }
	grep -q "summary ok=3 failed=0" "$RG_TMP/h3.out" || { cat "$RG_TMP/h3.out" "$RG_TMP/h3.err" >&2; fail "$backend: not every request answered"; }
	want=$(python3 -c 'import hashlib; print(hashlib.sha256(bytes(ord("a") + i % 26 for i in range(1000000))).hexdigest())')
	grep -q "^200 1000000 $want" "$RG_TMP/h3.out" || { cat "$RG_TMP/h3.out" >&2; fail "$backend: 1 MB body wrong"; }
	grep -q "^404 " "$RG_TMP/h3.out" || fail "$backend: unknown path not 404"
	# many small requests over a few connections
	"$H3" --cacert "$dir/localhost.pem" --resolve localhost:4433:127.0.0.1 --count 300 --parallel 20 --quiet \
		https://localhost:4433/ >"$RG_TMP/many.out" 2>&1 || { tail "$RG_TMP/many.out" >&2; fail "$backend: 300 requests"; }
	grep -q "summary ok=300 failed=0" "$RG_TMP/many.out" || { tail -3 "$RG_TMP/many.out" >&2; fail "$backend: 300 requests not all answered"; }

	# an upload through the proxy to the demo backend, echoed back intact
	head -c 300000 /dev/urandom >"$RG_TMP/up"
	"$H3" --cacert "$dir/localhost.pem" --resolve localhost:4433:127.0.0.1 --post-file "$RG_TMP/up" \
		https://localhost:4433/echo >"$RG_TMP/post.out" 2>&1 || { cat "$RG_TMP/post.out" >&2; fail "$backend: POST /echo"; }
	grep -q "^200 300000 $(sha256sum <"$RG_TMP/up" | cut -d' ' -f1)" "$RG_TMP/post.out" ||
		{ cat "$RG_TMP/post.out" >&2; fail "$backend: 300 KB POST not echoed intact"; }

	# gtlsclient
	if GTLS=$(find_gtlsclient); then
		mkdir -p "$RG_TMP/dl"
		timeout 20 "$GTLS" --quiet --exit-on-all-streams-close --download="$RG_TMP/dl" \
			127.0.0.1 4433 https://localhost:4433/ >"$RG_TMP/gtls.log" 2>&1 ||
			{ tail -20 "$RG_TMP/gtls.log" >&2; fail "$backend: gtlsclient failed"; }
		grep -q "ringgate" "$RG_TMP/dl/index.html" 2>/dev/null || grep -qi "html" "$RG_TMP/dl/"* ||
			fail "$backend: gtlsclient got no page"
	else
		fail "gtlsclient not installed: tools/setup.sh installs ngtcp2-client"
	fi

	# the QUIC counters reach /metrics (workers publish within 100 ms)
	handshakes() {
		curl -sf http://127.0.0.1:8082/metrics >"$RG_TMP/m" &&
			awk '$1 ~ /^ringgate_quic_handshakes_total\{.*result="completed"/ { s += $2 } END { exit !(s >= 3) }' "$RG_TMP/m"
	}
	wait_for 3 handshakes || { grep quic_ "$RG_TMP/m" | head >&2; fail "$backend: handshakes not in /metrics"; }
	rg_stop "$pid" "$RG_TMP/$backend.log" "$backend"
	note "$backend: ok"
done
echo "demo_h3: ok"
