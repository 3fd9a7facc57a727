#!/bin/bash
# Issue 18, the quic-interop-runner cases ringgate failed or could not run,
# against the whole appliance (2 workers, reuseport steering) on one ring
# backend, with ngtcp2's gtlsclient (package ngtcp2-client) as the client:
#  - versions: a client that starts in v1 and offers v2
#    (--preferred-versions/--available-versions v2,v1) is moved to v2
#    (RFC 9368 compatible negotiation: its log shows 0x6b3343cf); a client
#    that starts in v2 (-v v2) is served in v2; Retry (retry = on, by a
#    reload) and 0-RTT (resumed with a ticket, zero_rtt = on) in v2; with
#    versions = v1 a v2 client is sent Version Negotiation and moves to v1.
#  - ECN (RFC 9000 13.4): gtlsclient finds the path ECN-capable (our ACKs
#    carry ECN counts), ringgate's datagrams carry ECT(0) on the wire (read
#    with a packet socket on loopback), and the validated path is counted.
#  - preferred address (RFC 9000 9.6): the client moves to 127.0.0.2, the
#    preferred address, and a 10 MB download completes with its bytes
#    intact.
# Args: ringgate BACKEND (uring | epoll)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
RG=$(realpath "$1")
BACKEND=$2
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
HERE=$(cd "$(dirname "$0")" && pwd)
ADMIN=http://127.0.0.1:8082
ip addr add 127.0.0.2/8 dev lo 2>/dev/null # lo holds 127/8 already; explicit for clarity
make_cert "$RG_TMP" localhost
cd "$RG_TMP" || fail "tmp"
NL=$'\n'
write_config() { # more [quic] lines
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:$PORT, 127.0.0.2:$PORT
zero_rtt = on
preferred_address = 127.0.0.2:$PORT${1:+$NL$1}

$(rg_site_ini)
allow_0rtt = yes
INI
}
write_config ""
rg_site_backend
rg_start --ring-backend "$BACKEND"
want=$( [[ $BACKEND == uring ]] && echo io_uring || echo epoll)
curl -sf $ADMIN/status | grep -q "\"backend\":\"$want\"" || fail "not on the $BACKEND backend"

m() { metric_sum $ADMIN/metrics "^ringgate_$1"; }
m_after() { sleep 0.3; m "$1"; } # counters are published every 100 ms
# gtls NAME ARGS...: one client run, log in NAME.log, download in NAME/
gtls() {
	local name=$1; shift
	mkdir -p "$name"
	timeout 40 "$GTLS" --exit-on-all-streams-close --download="$name" "$@" >"$name.log" 2>&1 ||
		{ tail -30 "$name.log" >&2; fail "$name: gtlsclient $* exited $?"; }
}
body_is() { # FILE WANT
	[[ -f $1 && $(cat "$1") == "$2" ]] || fail "$1: body '$(head -c 80 "$1" 2>/dev/null)', want '$2'"
}
URL=https://localhost:$PORT

# ---- versions ----
gtls cvn --preferred-versions=v2,v1 --available-versions=v2,v1 127.0.0.1 $PORT $URL/cvn
grep -q "version=0x00000001 type=Initial" cvn.log || fail "cvn: the client did not start in v1"
grep -q "the negotiated version is 0x6b3343cf" cvn.log || fail "cvn: v1 client offering v2 not moved to v2"
body_is cvn/cvn "rg /cvn"
gtls v2 -v v2 127.0.0.1 $PORT $URL/v2
grep -q "version=0x6b3343cf type=Initial" v2.log || fail "v2: no v2 Initial"
grep -q "the negotiated version is 0x6b3343cf" v2.log || fail "v2: not served in v2"
body_is v2/v2 "rg /v2"
# 0-RTT in v2: a ticket first, then early data
gtls z1 -v v2 --session-file=sess --tp-file=tp --wait-for-ticket 127.0.0.1 $PORT $URL/z1
acc=$(m_after quic_0rtt_accepted_total)
gtls z2 -v v2 --session-file=sess --tp-file=tp 127.0.0.1 $PORT $URL/z2
body_is z2/z2 "rg /z2"
grep -q "the negotiated version is 0x6b3343cf" z2.log || fail "z2: not in v2"
(( $(m_after quic_0rtt_accepted_total) > acc )) || { tail -20 z2.log >&2; fail "0-RTT in v2 not accepted"; }
(( $(m quic_conns_v2_total) >= 4 )) || fail "quic_conns_v2_total $(m quic_conns_v2_total), want >= 4"
# Retry in v2 (the Retry integrity key is v2's, RFC 9369 3.3.3)
gen() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["config_generation"] if all(g == s["config_generation"] for g in s["worker_generations"]) else -1)'; }
gen_is() { [[ $(gen) == "$1" ]]; }
reload() { # [quic] LINES
	local g
	g=$(gen)
	write_config "$1"
	code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
	[[ $code == 200 ]] || { cat body >&2; fail "reload '$1': HTTP $code"; }
	wait_for 5 gen_is $((g + 1)) || fail "workers not on generation $((g + 1))"
}
reload "retry = on"
retries=$(m 'drops_total.*reason="retry_sent"')
gtls rv2 -v v2 127.0.0.1 $PORT $URL/rv2
body_is rv2/rv2 "rg /rv2"
grep -q "type=Retry" rv2.log || fail "rv2: no Retry seen by the client"
(( $(m_after 'drops_total.*reason="retry_sent"') > retries )) || fail "rv2: no Retry counted"
# versions = v1: a v2 client gets Version Negotiation and moves to v1
reload "versions = v1"
gtls vn -v v2 --preferred-versions=v2,v1 127.0.0.1 $PORT $URL/vn
grep -q "type=VN\|Version Negotiation\|version_negotiation" vn.log || fail "vn: no Version Negotiation"
grep -q "the negotiated version is 0x00000001" vn.log || fail "vn: not moved to v1"
body_is vn/vn "rg /vn"
reload ""
note "$BACKEND: versions ok (v1->v2 compatible, v2, 0-RTT v2, Retry v2, VN with versions = v1)"

# ---- ECN and preferred address: one 10 MB download ----
rm -f stop
python3 "$HERE/ecn_capture.py" $PORT 40 stop >ecn.out 2>ecn.err &
cap=$!
RG_PIDS+=("$cap")
wait_for 5 grep -q ready ecn.out || { cat ecn.err >&2; skip "no packet socket (CAP_NET_RAW) in the namespace"; }
gtls pa 127.0.0.1 $PORT $URL/bytes/10000000
touch stop
wait "$cap"
rg_forget "$cap"
got=$(sha256sum <pa/10000000 | cut -d' ' -f1)
[[ $got == "$(pattern_sha 10000000)" ]] || fail "preferred address: /bytes/10000000 sha256 $got"
grep -q "preferred_address.ipv4_addr=127.0.0.2" pa.log || fail "no preferred_address in the transport parameters"
grep -q "remote=\[127.0.0.2\]:$PORT" pa.log || fail "the client did not move to the preferred address"
grep -q "path is ECN capable" pa.log || fail "gtlsclient: path not ECN capable"
read -r _ dg _ ne _ e1 _ e0 _ ce < <(tail -1 ecn.out)
note "$BACKEND: ringgate's datagrams from :$PORT: $dg, not-ECT $ne, ECT(1) $e1, ECT(0) $e0, CE $ce"
((dg > 100 && e0 * 10 >= dg * 9)) || fail "ringgate's datagrams: ECT(0) on $e0 of $dg"
(( $(m quic_ecn_validated_paths_total) >= 1 )) || fail "no ECN-validated path counted"
(( $(m quic_rx_ecn_ect_total) > 0 )) || fail "no ECT datagram received counted"
note "$BACKEND: preferred address + 10 MB intact, ECN validated $(m quic_ecn_validated_paths_total), tx ECT $(m quic_tx_ecn_ect_total)"
rg_stop "$RG_PID" rg.log ringgate
echo "PASS"
