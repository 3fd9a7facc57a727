#!/bin/bash
# quic_testsrv against ngtcp2's own example client (gtlsclient, package
# ngtcp2-client): GET / and GET /bytes/1000000, without and with Retry.
# Args: quic_testsrv
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
SRV=$1
[[ -x $SRV ]] || fail "usage: gtlsclient.sh QUIC_TESTSRV"
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
make_cert "$RG_TMP" localhost

fetch() { # DIR URL...
	mkdir -p "$1"
	local d=$1; shift
	timeout 30 "$GTLS" --quiet --exit-on-all-streams-close --download="$d" \
		127.0.0.1 "$PORT" "$@" >"$d.log" 2>&1 || { tail -20 "$d.log" >&2; fail "gtlsclient $* exited $?"; }
}

want_bytes=$(pattern_sha 1000000)
for mode in plain retry; do
	args=(); [[ $mode == retry ]] && args=(--retry on)
	start_srv "$mode" "${args[@]}"
	fetch "$RG_TMP/$mode-index" "https://localhost:$PORT/"
	grep -q '<h1>ringgate</h1>' "$RG_TMP/$mode-index/index.html" || fail "$mode: / body wrong"
	fetch "$RG_TMP/$mode-bytes" "https://localhost:$PORT/bytes/1000000"
	got=$(sha256sum <"$RG_TMP/$mode-bytes/1000000" | cut -d' ' -f1)
	[[ $got == "$want_bytes" ]] || fail "$mode: /bytes/1000000 sha256 $got, want $want_bytes"
	stop_srv
	[[ $(counter handshakes_completed) -ge 2 ]] || fail "$mode: handshakes_completed $(counter handshakes_completed)"
	[[ $(counter responses_2xx) -ge 2 ]] || fail "$mode: responses_2xx $(counter responses_2xx)"
	if [[ $mode == retry ]]; then
		[[ $(counter retry_sent) -ge 2 ]] || fail "retry: retry_sent $(counter retry_sent)"
	else
		[[ $(counter retry_sent) -eq 0 ]] || fail "plain: retry_sent $(counter retry_sent)"
	fi
	note "$mode: ok ($(grep -E '^(handshakes_completed|requests|retry_sent|tx_gso_bufs) ' "$RG_TMP/$mode.out" | tr '\n' ' '))"
done
# ChaCha20-Poly1305 only (RFC 9001 5.3, 5.4.4 header protection): the
# interop runner's chacha20 case. The client offers nothing else, so a
# server without it fails the handshake.
start_srv chacha20
fetch "$RG_TMP/chacha20-bytes" --ciphers='NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305' \
	"https://localhost:$PORT/bytes/1000000"
got=$(sha256sum <"$RG_TMP/chacha20-bytes/1000000" | cut -d' ' -f1)
[[ $got == "$want_bytes" ]] || fail "chacha20: /bytes/1000000 sha256 $got, want $want_bytes"
stop_srv
[[ $(counter handshakes_completed) -ge 1 ]] || fail "chacha20: handshakes_completed $(counter handshakes_completed)"
note "chacha20: ok"

# A key update (RFC 9001 6) the client starts 10 ms after the handshake,
# with 1 MB still to come: the server runs it on ngtcp2's crypto context
# (its TLS session is released once the handshake completed, issue 17).
start_srv keyupdate
fetch "$RG_TMP/keyupdate-bytes" --key-update=10ms "https://localhost:$PORT/bytes/1000000"
got=$(sha256sum <"$RG_TMP/keyupdate-bytes/1000000" | cut -d' ' -f1)
[[ $got == "$want_bytes" ]] || fail "key update: /bytes/1000000 sha256 $got, want $want_bytes"
stop_srv
[[ $(counter key_updates) -ge 1 ]] || fail "key update: key_updates $(counter key_updates)"
note "keyupdate: ok ($(grep -E '^(handshakes_completed|key_updates) ' "$RG_TMP/keyupdate.out" | tr '\n' ' '))"
echo "PASS"
