#!/usr/bin/env bash
# [quic] max_connections (issue 17): with max_connections = 16 on one
# worker, 16 idle connections are established and held, and a 17th is
# refused (its Initials dropped, counted as conn_limit on /metrics). A
# reload to 32 applies at once: the 17th then connects.
# Args: ringgate ringgatectl h3load
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh" # appliance_args
in_private_netns "$@"
appliance_args "$@" "h3load (bench not built)"
H3L=$TOOL
"$CTL" certgen --cert a.pem --key a.key localhost >/dev/null || fail "certgen"
write_config() { # MAX
	cat >rg.ini <<INI
[appliance]
workers = 1
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433
max_connections = $1

[vhost localhost]
cert = $RG_TMP/a.pem
key = $RG_TMP/a.key
INI
}
write_config 16
"$RG" -c rg.ini 2>log &
pid=$!
RG_PIDS+=("$pid")
wait_for 10 curl -sf $ADMIN/health || { cat log >&2; fail "no /health"; }
conn_limit() { metric_sum $ADMIN/metrics 'ringgate_drops_total.worker="[0-9]+",layer="quic",reason="conn_limit".'; }
[[ $(conn_limit) == 0 ]] || fail "conn_limit drops before any client"

# 16 connections held for up to 20 s (ended below, once the checks are done)
"$H3L" --idle -c 16 --hold 20 -t 30 -k -a 127.0.0.1 https://localhost:4433/ >hold.out 2>&1 &
hold=$!
RG_PIDS+=("$hold")
established() { grep -q "^established $1\$" "$2"; }
wait_for 15 established 16 hold.out || { cat hold.out >&2; fail "16 connections with max_connections = 16"; }

# the 17th: no handshake within 3 s, its Initials counted as conn_limit
# (h3load's exit status is not used: built with UBSan it aborts at its
# report when no request was made; "established N" is what counts)
"$H3L" --idle -c 1 --hold 0 -t 3 -k -a 127.0.0.1 https://localhost:4433/ >extra.out 2>&1
established 1 extra.out && fail "a 17th connection past max_connections = 16"
sleep 0.3 # the counters are published every 100 ms
n=$(conn_limit)
((n > 0)) || { cat extra.out >&2; fail "the 17th connection was not counted as conn_limit ($n)"; }
note "17th connection refused, conn_limit drops $n"

# a reload raises the limit for new connections at once
write_config 32
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 200 ]] || { cat body >&2; fail "reload to max_connections = 32: HTTP $code"; }
ok=
for _ in 1 2 3 4 5; do # the workers take the generation within a loop turn or two
	"$H3L" --idle -c 1 --hold 0 -t 5 -k -a 127.0.0.1 https://localhost:4433/ >extra.out 2>&1
	established 1 extra.out && { ok=1; break; }
	sleep 0.5
done
[[ -n $ok ]] || { cat extra.out >&2; fail "no 17th connection after the reload to max_connections = 32"; }
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null
rg_forget "$hold"
rg_stop "$pid" log ringgate
echo "PASS"
