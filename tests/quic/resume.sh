#!/bin/bash
# Resumption, 0-RTT, NEW_TOKEN and qlog against ngtcp2's gtlsclient:
#  - zero_rtt on: a second connection resumes with the first one's ticket
#    and sends its GET in 0-RTT (accepted, request flagged early_data); a
#    POST in 0-RTT gets 425 Too Early from the built-in responder; the
#    NEW_TOKEN token of the first connection is accepted by the next ones.
#  - zero_rtt off, same static secret (so the same ticket key): the ticket
#    still resumes, the early data is refused and the client resends in
#    1-RTT, the request is answered and is not flagged.
#  - retry on: the first connection goes through Retry, a connection with
#    the NEW_TOKEN token skips it.
#  - every qlog file is valid JSON-SEQ (RFC 7464) and named by the ODCID.
# Args: quic_testsrv
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
SRV=$1
[[ -x $SRV ]] || fail "usage: resume.sh QUIC_TESTSRV"
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
make_cert "$RG_TMP" localhost
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ST=$RG_TMP/state # session ticket, transport parameters, token
mkdir -p "$ST"

client() { # NAME ARGS... (URLs last)
	local name=$1; shift
	mkdir -p "$RG_TMP/$name"
	timeout 30 "$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump \
		--session-file="$ST/sess" --tp-file="$ST/tp" --token-file="$ST/token" \
		--download="$RG_TMP/$name" 127.0.0.1 "$PORT" "$@" >"$RG_TMP/$name.log" 2>&1 ||
		{ tail -20 "$RG_TMP/$name.log" >&2; fail "gtlsclient $name exited $?"; }
}
want() { # NAME VALUE eq|ge: counter of the last stopped server
	local v; v=$(counter "$1")
	test "$v" "-$3" "$2" || fail "$SRV_NAME: $1 = $v, want -$3 $2"
}
sent_0rtt() { grep -q 'type=0RTT' "$RG_TMP/$1.log"; }

# ---- zero_rtt on ----
mkdir -p "$RG_TMP/qlog"
start_srv on --zero-rtt --secret "$SECRET" --qlog-dir "$RG_TMP/qlog"
client on1 --wait-for-ticket "https://localhost:$PORT/"
[[ -s $ST/sess && -s $ST/tp && -s $ST/token ]] || fail "no ticket, transport parameters or token saved"
client on2 "https://localhost:$PORT/bytes/100000"
sent_0rtt on2 || fail "on2: the client sent no 0-RTT packet"
cmp -s <(python3 -c 'import sys; sys.stdout.buffer.write(bytes(ord("a") + i % 26 for i in range(100000)))') \
	"$RG_TMP/on2/100000" || fail "on2: body wrong"
printf 'posted in 0-RTT' >"$RG_TMP/post.txt"
client on3 -m POST --data="$RG_TMP/post.txt" "https://localhost:$PORT/echo"
grep -q 'status: 425' "$RG_TMP/on3.log" || fail "on3: POST in 0-RTT not answered 425"
grep -q 'too early' "$RG_TMP/on3/echo" || fail "on3: no 425 body"
stop_srv
want handshakes_completed 3 eq
want handshakes_resumed 2 eq
want zero_rtt_accepted 2 eq
want zero_rtt_rejected 0 eq
want requests_0rtt 2 eq
want responses_4xx 1 eq
want tickets_issued 3 eq
want tokens_issued 3 ge
want tokens_accepted 2 eq
want qlog_files 3 eq
want qlog_errors 0 eq
note "on: $(grep -E '^(handshakes_resumed|zero_rtt_accepted|requests_0rtt|tokens_accepted) ' "$RG_TMP/on.out" | tr '\n' ' ')"

# every qlog: JSON-SEQ, named by the ODCID it records
python3 - "$RG_TMP/qlog" <<'PY' || fail "qlog files invalid"
import json, os, sys
d = sys.argv[1]
files = [f for f in os.listdir(d) if f.endswith(".sqlog")]
assert len(files) == 3, files
for f in files:
    raw = open(os.path.join(d, f), "rb").read()
    assert raw[:1] == b"\x1e", f + ": not JSON-SEQ (no RS first)"
    recs = [json.loads(r) for r in raw.split(b"\x1e") if r.strip()]
    head = recs[0]
    assert head.get("qlog_format") == "JSON-SEQ", head
    assert head["trace"]["common_fields"]["group_id"] == f[:-6], (f, head)
    names = {r.get("name") for r in recs[1:]}
    assert "transport:packet_received" in names and "transport:packet_sent" in names, names
print("qlog ok: %d files" % len(files))
PY

# ---- zero_rtt off, same secret: the ticket resumes, early data refused ----
start_srv off --secret "$SECRET"
client off1 "https://localhost:$PORT/"
sent_0rtt off1 || fail "off1: the client sent no 0-RTT packet (no ticket?)"
grep -q '<h1>ringgate</h1>' "$RG_TMP/off1/index.html" || fail "off1: / body wrong"
stop_srv
want handshakes_resumed 1 eq
want zero_rtt_accepted 0 eq
want zero_rtt_rejected 1 eq
want requests_0rtt 0 eq
want responses_2xx 1 eq
want tokens_accepted 1 eq
want qlog_files 0 eq

# ---- Retry, then NEW_TOKEN skips it ----
rm -f "$ST"/*
start_srv retry --retry on
client r1 "https://localhost:$PORT/"
[[ -s $ST/token ]] || fail "r1: no NEW_TOKEN token received"
client r2 "https://localhost:$PORT/"
client r3 "https://localhost:$PORT/"
stop_srv
want retry_sent 1 eq
want tokens_accepted 2 eq
want handshakes_completed 3 eq
note "retry: $(grep -E '^(retry_sent|tokens_issued|tokens_accepted|tokens_rejected) ' "$RG_TMP/retry.out" | tr '\n' ' ')"

# a token from another process's secret is ignored, and Retry still works
start_srv retry2 --retry on
client r4 "https://localhost:$PORT/"
stop_srv
want tokens_rejected 1 eq
want retry_sent 1 eq
want handshakes_completed 1 eq
echo "PASS"
