#!/bin/bash
# Issue 18 section 4: handshakes under 30 % loss each way. 50 connections of
# ngtcp2's gtlsclient with `-r 0.3 -t 0.3` (its own loss model drops 30 % of
# what it receives and of what it sends) against the whole appliance (2
# workers) on one ring backend, all at once (60 s each at most) so the run is bounded
# (about 20-40 s). At least 49 must complete their request, or no more
# than gtlsserver's losses in the same place allow (below; gtlsserver
# itself loses about 1 in 80 to the loss model's tail, where the client
# never hears a reply), and none may fail by ringgate's own handshake
# timeout: ringgate_quic_handshake_timeouts_total stays 0. The default
# handshake timeout is twice the idle timeout; the old fixed 10 s cut
# handshakes whose Finished was lost five times (RFC 9002 6.2 backoff).
# With RG_LOSS_HANDSHAKE_TIMEOUT=2s the test shows it catches that bug: the
# counter moves and connections fail.
# Args: ringgate BACKEND (uring | epoll)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
RG=$(realpath "$1")
BACKEND=$2
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
ADMIN=http://127.0.0.1:8082
N=50 WANT=${RG_LOSS_WANT:-49} # RG_LOSS_WANT: tests of this test
make_cert "$RG_TMP" localhost
cd "$RG_TMP" || fail "tmp"
cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:$PORT
${RG_LOSS_HANDSHAKE_TIMEOUT:+handshake_timeout = $RG_LOSS_HANDSHAKE_TIMEOUT}

$(rg_site_ini)
INI
rg_site_backend
rg_start --ring-backend "$BACKEND"
m() { metric_sum $ADMIN/metrics "^ringgate_$1"; }

# one connection: exit status and the body decide
one() { # I
	mkdir -p "c$1"
	timeout 60 "$GTLS" -q -r 0.3 -t 0.3 --exit-on-all-streams-close --download="c$1" \
		127.0.0.1 $PORT "https://localhost:$PORT/loss$1" >"c$1.log" 2>&1 &&
		[[ $(cat "c$1/loss$1" 2>/dev/null) == "rg /loss$1" ]]
}
# one round of N at once against ringgate, from index FIRST: how many
# completed (the request's body came back)
round() { # FIRST
	local pids=() i p n=0
	for ((i = $1; i < $1 + N; i++)); do
		one "$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" && n=$((n + 1)); done
	echo "$n"
}
t0=$SECONDS
ok=$(round 0)
sleep 0.3 # counters are published every 100 ms
timeouts=$(m quic_handshake_timeouts_total)
done_hs=$(m 'quic_handshakes_total.*result="completed"')
note "$BACKEND: $ok of $N requests completed under 30 % loss each way in $((SECONDS - t0)) s;" \
	"handshakes completed $done_hs, handshake timeouts $timeouts"
for ((i = 0; i < N; i++)); do
	[[ $(cat "c$i/loss$i" 2>/dev/null) == "rg /loss$i" ]] || note "c$i failed: $(tail -1 "c$i.log")"
done
((timeouts == 0)) || fail "ringgate cut $timeouts handshakes at its own handshake timeout"
# Below WANT, the same N clients run against the reference, ngtcp2's own
# gtlsserver, in the same namespace right after: the loss model's tail (a
# client that never hears a reply) grows with the machine's load, and on a
# loaded CI machine 48 of 50 was seen with no timeout of ringgate's.
# ringgate passes if it lost at most one connection more than gtlsserver.
# Both lose about 1 in 80 to that tail, so with that rule alone a run
# fails by chance about one time in 13 (a binomial simulation, 400,000
# runs: 7.8 %): when ringgate lost more, both run a second round, and
# ringgate fails only if it lost more than gtlsserver + 1 in that round
# too. By chance that is 0.6 % of runs; a ringgate losing 1 in 20 fails
# 32 % of runs, 1 in 10 82 % (the same simulation). A handshake-timeout
# fault (RG_LOSS_HANDSHAKE_TIMEOUT=2s) fails on the counter above.
if ((ok < WANT)); then
	GSRV=$(command -v gtlsserver || ls /usr/lib/*/ngtcp2*/gtlsserver 2>/dev/null | head -1) ||
		fail "$ok of $N connections completed, want >= $WANT (no gtlsserver to compare with)"
	mkdir -p ref
	for ((i = 0; i < 2 * N; i++)); do printf 'rg /loss%s' "$i" >"ref/loss$i"; done
	"$GSRV" -q -d ref 127.0.0.1 $((PORT + 1)) "$RG_TMP/localhost.key" "$RG_TMP/localhost.crt" >gsrv.log 2>&1 &
	gpid=$!
	RG_PIDS+=("$gpid")
	sleep 0.5
	one_ref() { # I
		mkdir -p "r$1"
		timeout 60 "$GTLS" -q -r 0.3 -t 0.3 --exit-on-all-streams-close --download="r$1" \
			127.0.0.1 $((PORT + 1)) "https://localhost:$((PORT + 1))/loss$1" >"r$1.log" 2>&1 &&
			[[ $(cat "r$1/loss$1" 2>/dev/null) == "rg /loss$1" ]]
	}
	ref_round() { # FIRST
		local pids=() i p n=0
		for ((i = $1; i < $1 + N; i++)); do one_ref "$i" & pids+=($!); done
		for p in "${pids[@]}"; do wait "$p" && n=$((n + 1)); done
		echo "$n"
	}
	ref=$(ref_round 0)
	note "$BACKEND: below $WANT; gtlsserver in the same place: $ref of $N"
	if ((N - ok > N - ref + 1)); then
		ok2=$(round "$N")
		ref2=$(ref_round "$N")
		timeouts=$(m quic_handshake_timeouts_total)
		note "$BACKEND: second round: ringgate $ok2 of $N, gtlsserver $ref2 of $N, handshake timeouts $timeouts"
		((timeouts == 0)) || fail "ringgate cut $timeouts handshakes at its own handshake timeout"
		((N - ok2 <= N - ref2 + 1)) ||
			fail "$ok and $ok2 of $N connections completed in two rounds (gtlsserver: $ref and $ref2)"
	fi
	kill "$gpid" 2>/dev/null
fi
rg_stop "$RG_PID" rg.log ringgate
echo "PASS"
