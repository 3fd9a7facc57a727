#!/bin/bash
# Connection migration (RFC 9000 9) during large downloads: the client
# moves to a new local address itself (gtlsclient --change-local-addr,
# PATH_CHALLENGE from the client), and a NAT rebinds the client's mapping
# every 100 ms (natproxy.py: the server sees a new source port and
# validates it). Every body must arrive whole.
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
python3 "$(dirname "$0")/natproxy.py" $NAT_PORT "$PORT" 100 300 >"$RG_TMP/nat.out" &
NAT_PID=$!
RG_PIDS+=("$NAT_PID")
wait_for 5 grep -q listening "$RG_TMP/nat.out" || fail "natproxy did not start"
fetch nat1 $NAT_PORT
fetch nat2 $NAT_PORT
kill -TERM $NAT_PID
wait $NAT_PID
stop_srv
rebinds=$(awk '/^rebinds/ { print $2 }' "$RG_TMP/nat.out")
(( rebinds >= 2 )) || fail "the NAT rebound only ${rebinds:-0} times"
# the rebindings are new paths the server validated (some may be
# superseded by the next one before validation ends)
(( $(counter path_migrations) >= 1 && $(counter path_migrations) >= rebinds / 2 )) ||
	fail "path_migrations $(counter path_migrations) for 2 moves and $rebinds rebinds"
[[ $(counter handshakes_completed) -eq 4 ]] || fail "handshakes_completed $(counter handshakes_completed)"
note "rebinds $rebinds, $(grep -E '^(path_migrations|drop_conn_read) ' "$RG_TMP/migrate.out" | tr '\n' ' ')"
echo "PASS"
