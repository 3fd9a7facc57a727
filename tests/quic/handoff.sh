#!/bin/bash
# The whole appliance with 2 workers: a NAT in front of the client
# (natproxy.py) rebinds the client's source port every 3 MB of a 30 MB
# download (counted in bytes, not time, so a fast build rebinds as often as
# a slow one), so the 4-tuple keeps changing. The kernel's reuseport hash
# alone would send about half the rebound flows to the worker that does
# not own the connection (which would hand each datagram over,
# datapath/worker.c); the reuseport program (worker_quic_steer) reads the
# worker from our connection ID, so every datagram reaches its owner: no
# hand-off, and the connection migrates to each new path. Also over the appliance: a session
# ticket issued by one worker resumes on any (the ticket key is the
# process's), 0-RTT with [quic] zero_rtt = on, NEW_TOKEN, and qlog_dir.
# Args: ringgate
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
RG=$(realpath "$1")
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
ADMIN=http://127.0.0.1:8082
NAT_PORT=5433
make_cert "$RG_TMP" localhost
mkdir -p "$RG_TMP/qlog" "$RG_TMP/st"
cat >"$RG_TMP/rg.ini" <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:$PORT
zero_rtt = on
qlog_dir = $RG_TMP/qlog

[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key

[backend be]
server = 127.0.0.1:9301

[route all]
host = localhost
path_prefix = /
backend = be
allow_0rtt = yes

[route strict]
host = localhost
path_prefix = /strict/
backend = be
allow_0rtt = no
INI
# the backend behind the proxy: /bytes/N is the pattern, anything else
# answers "rg PATH"
python3 "$(dirname "$0")/../proxy/backend.py" 9301 rg >/dev/null 2>&1 &
RG_PIDS+=($!)
wait_for 10 curl -sf http://127.0.0.1:9301/x || fail "backend did not start"
"$RG" -c "$RG_TMP/rg.ini" 2>"$RG_TMP/rg.log" &
RG_PID=$!
RG_PIDS+=("$RG_PID")
wait_for 20 curl -sf $ADMIN/health || { cat "$RG_TMP/rg.log" >&2; fail "no /health"; }
python3 "$(dirname "$0")/natproxy.py" --ready "$RG_TMP/nat.ready" --start-bytes 1000000 \
	--every-bytes 3000000 $NAT_PORT $PORT >"$RG_TMP/nat.out" 2>"$RG_TMP/nat.err" &
NAT_PID=$!
RG_PIDS+=("$NAT_PID")
# ready when its socket is bound; a loaded machine may take seconds to
# start Python, so wait long, and fail at once if it died instead
nat_ready() { [[ -s $RG_TMP/nat.ready ]] || { kill -0 $NAT_PID || return 0; return 1; }; }
wait_for 60 nat_ready && [[ -s $RG_TMP/nat.ready ]] ||
	{ cat "$RG_TMP/nat.err" >&2; fail "natproxy did not start"; }

metric() { # NAME: summed over workers
	metric_sum $ADMIN/metrics "^ringgate_$1[{]"
}

N=30000000
want_sha=$(pattern_sha $N)
for i in 1 2 3; do
	mkdir -p "$RG_TMP/nat$i"
	timeout 60 "$GTLS" --quiet --exit-on-all-streams-close --download="$RG_TMP/nat$i" \
		127.0.0.1 $NAT_PORT "https://localhost:$NAT_PORT/bytes/$N" >"$RG_TMP/nat$i.log" 2>&1 ||
		{ tail -20 "$RG_TMP/nat$i.log" >&2; fail "download $i through the NAT exited $?"; }
	got=$(sha256sum <"$RG_TMP/nat$i/$N" | cut -d' ' -f1)
	[[ $got == "$want_sha" ]] || fail "download $i: sha256 $got, want $want_sha"
done
kill -TERM $NAT_PID
wait $NAT_PID
rebinds=$(awk '/^rebinds/ { print $2 }' "$RG_TMP/nat.out")

# resumption and 0-RTT across workers: each new connection has a new source
# port, so the kernel spreads them over both workers. Connect until both
# workers have resumed a session: the sequence of workers then changes
# somewhere, i.e. a ticket issued by one worker was resumed by the other.
per_worker() { # NAME WORKER
	curl -sf $ADMIN/metrics | awk -v n="ringgate_$1{worker=\"$2\"}" '$1 == n { print $2 }'
}
both_resumed() { [[ $(per_worker quic_handshakes_resumed_total 0) -gt 0 && $(per_worker quic_handshakes_resumed_total 1) -gt 0 ]]; }
conns=0
for i in $(seq 16); do
	mkdir -p "$RG_TMP/r$i"
	args=(); [[ $i == 1 ]] && args=(--wait-for-ticket)
	timeout 30 "$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump "${args[@]}" \
		--session-file="$RG_TMP/st/sess" --tp-file="$RG_TMP/st/tp" --token-file="$RG_TMP/st/token" \
		--download="$RG_TMP/r$i" 127.0.0.1 $PORT "https://localhost:$PORT/" >"$RG_TMP/r$i.log" 2>&1 ||
		{ tail -20 "$RG_TMP/r$i.log" >&2; fail "resumption client $i exited $?"; }
	grep -qx 'rg /' "$RG_TMP/r$i/index.html" || fail "resumption client $i: body wrong"
	conns=$i
	(( i >= 5 )) && wait_for 1 both_resumed && break
done
both_resumed || fail "in $conns connections, one worker never resumed a session"
resumed=$((conns - 1))

# workers publish their counters within 100 ms
settled() { [[ $(metric quic_handshakes_resumed_total) -ge $resumed ]]; }
wait_for 3 settled || true
sent=$(metric quic_handoffs_sent_total) recvd=$(metric quic_handoffs_received_total)
dropped=$(metric quic_handoffs_dropped_total)
note "rebinds $rebinds, hand-offs sent $sent received $recvd dropped $dropped," \
	"path migrations $(metric quic_path_migrations_total)," \
	"$conns connections, resumed $(metric quic_handshakes_resumed_total) (worker 0: $(per_worker quic_handshakes_resumed_total 0)), 0-RTT $(metric quic_0rtt_accepted_total)," \
	"tokens accepted $(metric quic_tokens_accepted_total), qlog files $(metric quic_qlog_files_total)"
(( rebinds >= 9 )) || fail "the NAT rebound only ${rebinds:-0} times"
# by hash, each rebinding would move the flow to the other worker with
# probability 1/2; steered by connection ID, none does
(( sent == 0 )) || fail "$sent datagrams reached the wrong worker in $rebinds rebindings (reuseport steering?)"
(( recvd + dropped == sent )) || fail "hand-offs: sent $sent, received $recvd, dropped $dropped"
(( $(metric quic_path_migrations_total) >= 1 )) || fail "no path migration validated"
[[ $(metric quic_handshakes_resumed_total) -eq $resumed ]] || fail "resumed $(metric quic_handshakes_resumed_total), want $resumed"
[[ $(metric quic_0rtt_accepted_total) -eq $resumed ]] || fail "0-RTT accepted $(metric quic_0rtt_accepted_total), want $resumed"
[[ $(metric quic_tokens_accepted_total) -eq $resumed ]] || fail "tokens accepted $(metric quic_tokens_accepted_total), want $resumed"
[[ $(metric http_requests_0rtt_total) -eq $resumed ]] || fail "0-RTT requests $(metric http_requests_0rtt_total), want $resumed"
[[ $(ls "$RG_TMP/qlog" | wc -l) -eq $((3 + conns)) ]] || fail "$(ls "$RG_TMP/qlog" | wc -l) qlog files, want $((3 + conns))"

# a request in 0-RTT on a route with allow_0rtt = no: 425, never forwarded
before=$(metric http_requests_0rtt_total)
mkdir -p "$RG_TMP/strict"
timeout 30 "$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump \
	--session-file="$RG_TMP/st/sess" --tp-file="$RG_TMP/st/tp" --token-file="$RG_TMP/st/token" \
	--download="$RG_TMP/strict" 127.0.0.1 $PORT "https://localhost:$PORT/strict/x" >"$RG_TMP/strict.log" 2>&1 ||
	{ tail -20 "$RG_TMP/strict.log" >&2; fail "0-RTT client on the strict route exited $?"; }
(( $(metric http_requests_0rtt_total) > before )) || fail "the strict-route request was not sent in 0-RTT"
grep -qx 'too early' "$RG_TMP/strict/x" || { cat "$RG_TMP/strict/x" >&2; fail "0-RTT on a route without allow_0rtt: not 425"; }

rg_stop "$RG_PID" "$RG_TMP/rg.log"
echo "PASS"
