#!/bin/bash
# Connection migration (RFC 9000 9) during large downloads: the client
# moves to a new local address itself (gtlsclient --change-local-addr,
# PATH_CHALLENGE from the client), and a NAT rebinds the client's mapping
# every 3 MB of download (natproxy.py: the server sees a new source port and
# validates it). Every body must arrive whole.
# The NAT rebinds on byte counts, not on a timer: a release build carries
# the 20 MB in less than the first period of a timer, so a timer made 0
# rebindings 2 runs in 3; by bytes, each download is rebound at 1, 4, 7,
# 10, 13 and 16 MB (and perhaps 19) on any machine.
# Args: quic_testsrv
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
SRV=$1
[[ -x $SRV ]] || fail "usage: migration.sh QUIC_TESTSRV"
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
make_cert "$RG_TMP" localhost
NAT_PORT=5433
N=20000000
want_sha=$(pattern_sha $N)

fetch() { # NAME PORT ARGS...
	local name=$1 port=$2; shift 2
	mkdir -p "$RG_TMP/$name"
	timeout 60 "$GTLS" --quiet --exit-on-all-streams-close --download="$RG_TMP/$name" \
		"$@" 127.0.0.1 "$port" "https://localhost:$port/bytes/$N" >"$RG_TMP/$name.log" 2>&1 ||
		{ tail -20 "$RG_TMP/$name.log" >&2; fail "gtlsclient $name exited $?"; }
	local got; got=$(sha256sum <"$RG_TMP/$name/$N" | cut -d' ' -f1)
	[[ $got == "$want_sha" ]] || fail "$name: body sha256 $got, want $want_sha"
}

start_srv migrate
fetch active1 "$PORT" --change-local-addr=100ms
fetch active2 "$PORT" --change-local-addr=200ms
REBIND_FIRST=1000000 REBIND_EVERY=3000000
python3 "$(dirname "$0")/natproxy.py" --ready "$RG_TMP/nat.ready" --start-bytes $REBIND_FIRST \
	--every-bytes $REBIND_EVERY $NAT_PORT "$PORT" >"$RG_TMP/nat.out" 2>"$RG_TMP/nat.err" &
NAT_PID=$!
RG_PIDS+=("$NAT_PID")
# Ready when its socket is bound (the file appears then); a loaded machine
# may take seconds to start Python, so wait long, and fail at once if it
# died instead.
nat_ready() { [[ -s $RG_TMP/nat.ready ]] || { kill -0 $NAT_PID || return 0; return 1; }; }
wait_for 60 nat_ready && [[ -s $RG_TMP/nat.ready ]] ||
	{ cat "$RG_TMP/nat.err" >&2; fail "natproxy did not start"; }
fetch nat1 $NAT_PORT
fetch nat2 $NAT_PORT
kill -TERM $NAT_PID
wait $NAT_PID
stop_srv
rebinds=$(awk '/^rebinds/ { print $2 }' "$RG_TMP/nat.out")
down=$(awk '/^forwarded_down/ { print $2 }' "$RG_TMP/nat.out")
# two downloads of N bytes, each rebound at every threshold it passed
# before its last bytes (a rebinding needs a client datagram after it)
want=$(( 2 * ((N - REBIND_FIRST - REBIND_EVERY) / REBIND_EVERY + 1) ))
(( rebinds >= want )) || fail "the NAT rebound only ${rebinds:-0} times in ${down:-0} bytes, want $want"
# the rebindings are new paths the server validated (some may be
# superseded by the next one before validation ends)
(( $(counter path_migrations) >= 1 && $(counter path_migrations) >= rebinds / 2 )) ||
	fail "path_migrations $(counter path_migrations) for 2 moves and $rebinds rebinds"
[[ $(counter handshakes_completed) -eq 4 ]] || fail "handshakes_completed $(counter handshakes_completed)"
note "rebinds $rebinds, $(grep -E '^(path_migrations|drop_conn_read) ' "$RG_TMP/migrate.out" | tr '\n' ' ')"
echo "PASS"
