#!/usr/bin/env bash
# ringgate --demo end to end, in a private network namespace: /health,
# /status, /metrics counting datagrams per listener, reload by SIGHUP and
# POST /reload (new generation picked up by every worker), ringgatectl
# against it, JSON logs, and SIGTERM -> exit 0 with the temporary files gone.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") CTL=$(realpath "$2")
ADMIN=http://127.0.0.1:8082

"$RG" --demo --workers 2 --json-logs >"$RG_TMP/out" 2>"$RG_TMP/log" &
pid=$!
RG_PIDS+=("$pid")
wait_for 20 curl -sf $ADMIN/health || { cat "$RG_TMP/log" >&2; fail "/health never answered"; }
[[ $(curl -s $ADMIN/health) == ok ]] || fail "/health body"

# Every log line is one JSON object.
python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    o = json.loads(line)
    assert {"ts", "level", "msg"} <= o.keys(), (n, line)
' "$RG_TMP/log" || fail "--json-logs wrote a line that is not a JSON object"
grep -q 'curl http://127.0.0.1:8082/health' "$RG_TMP/log" || fail "demo does not say how to try it"
demo_dir=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)["msg"]
    if m.startswith("demo: files in "):
        print(m[len("demo: files in "):])
' "$RG_TMP/log")
[[ -d $demo_dir && -f $demo_dir/localhost.pem && -f $demo_dir/tunnel.key ]] || fail "demo files missing ($demo_dir)"

status() { curl -sf $ADMIN/status | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
[[ $(status 's["workers"]') == 2 ]] || fail "/status workers"
[[ $(status 'sum(l["bound"] for l in s["listeners"])') == 4 ]] ||
	fail "/status: four bound listeners (quic, tunnel, https, redirect)"

# HTTPS over TCP (issue 9) on the QUIC port, as the banner says, with
# Alt-Svc naming HTTP/3; the redirect server on its free port
grep -q 'demo: HTTPS (TCP)    curl --cacert .*/localhost.pem https://localhost:4433/' "$RG_TMP/log" ||
	fail "the banner has no HTTPS curl line"
for proto in --http2 --http1.1; do
	curl -sS --max-time 10 "$proto" --cacert "$demo_dir/localhost.pem" -D "$RG_TMP/hdr" -o "$RG_TMP/body" \
		https://localhost:4433/ || fail "demo: HTTPS ($proto) with the banner's curl"
	grep -q '^HTTP/[12].* 200' "$RG_TMP/hdr" || { cat "$RG_TMP/hdr" >&2; fail "demo: HTTPS ($proto) not 200"; }
	grep -qi '^alt-svc: h3=":4433"' "$RG_TMP/hdr" || { cat "$RG_TMP/hdr" >&2; fail "demo: no Alt-Svc ($proto)"; }
done
rport=$(grep -o 'demo: redirect       curl -i http://localhost:[0-9]*/' "$RG_TMP/log" | grep -o '[0-9]*/$' | tr -d /)
[[ -n $rport ]] || fail "the banner has no redirect line"
curl -sS --max-time 10 -o /dev/null -D "$RG_TMP/rhdr" "http://localhost:$rport/x" || fail "demo: redirect server"
grep -q '^HTTP/1.1 308' "$RG_TMP/rhdr" && grep -qi '^location: https://localhost:4433/x' "$RG_TMP/rhdr" ||
	{ cat "$RG_TMP/rhdr" >&2; fail "demo: no 308 to https://localhost:4433/x"; }
[[ $(status 's["config_generation"]') == 1 ]] || fail "/status generation 1"

# Datagrams reach the workers and are counted per listener; garbage to the
# tunnel port (and an empty datagram) is judged by the tunnel engine and
# dropped with its reason, an empty one to the QUIC port by the QUIC core.
send_udp 127.0.0.1 4433 200 1200
send_udp 127.0.0.1 51820 50 148
send_udp 127.0.0.1 51820 1 0
quic_rx() { [[ $(metric_sum $ADMIN/metrics 'ringgate_rx_datagrams_by_listener_total\{.*listener="quic"') == 200 ]]; }
tun_rx() { [[ $(metric_sum $ADMIN/metrics 'ringgate_rx_datagrams_by_listener_total\{.*listener="tunnel"') == 51 ]]; }
wait_for 5 quic_rx || { curl -s $ADMIN/metrics | grep by_listener >&2; fail "quic datagrams not counted"; }
wait_for 5 tun_rx || { curl -s $ADMIN/metrics | grep by_listener >&2; fail "tunnel datagrams not counted"; }
tunnel_drops() { [[ $(metric_sum $ADMIN/metrics 'ringgate_tunnel_rx_total\{.*verdict="drop_(malformed|mac)"') == 51 ]]; }
wait_for 5 tunnel_drops || { curl -s $ADMIN/metrics | grep tunnel_rx >&2; fail "garbage to the tunnel port not counted as drops"; }
curl -sf $ADMIN/metrics | grep -q '^# TYPE ringgate_rx_datagrams_total counter' || fail "metrics TYPE lines"
curl -sf $ADMIN/metrics >"$RG_TMP/metrics"
promtool check metrics <"$RG_TMP/metrics" || fail "promtool check metrics refused /metrics"
if grep -v '^#' "$RG_TMP/metrics" | grep -v '^ringgate_' | grep -q .; then
	fail "a metric without the ringgate_ prefix"
fi

# Reload: SIGHUP, then the admin API; every worker moves to the new generation.
kill -HUP "$pid"
gen_is() { [[ $(status "s['config_generation'] == $1 and all(g == $1 for g in s['worker_generations'])") == True ]]; }
wait_for 5 gen_is 2 || { curl -s $ADMIN/status >&2; fail "SIGHUP did not publish generation 2"; }
code=$(curl -s -o "$RG_TMP/reload" -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 200 ]] || fail "POST /reload answered $code"
grep -q '"config_generation":3' "$RG_TMP/reload" || fail "POST /reload body: $(cat "$RG_TMP/reload")"
wait_for 5 gen_is 3 || fail "workers did not move to generation 3"
[[ $(curl -s -o /dev/null -w '%{http_code}' $ADMIN/reload) == 405 ]] || fail "GET /reload must be 405"
[[ $(curl -s -o /dev/null -w '%{http_code}' $ADMIN/nothing) == 404 ]] || fail "unknown path must be 404"
# The listeners survived the reloads: datagrams still counted.
send_udp 127.0.0.1 4433 10 1200
quic_rx2() { [[ $(metric_sum $ADMIN/metrics 'ringgate_rx_datagrams_by_listener_total\{.*listener="quic"') == 210 ]]; }
wait_for 5 quic_rx2 || fail "quic listener lost after reload"

# ringgatectl against the running appliance.
"$CTL" health | grep -q ok || fail "ringgatectl health"
"$CTL" status | grep -q '"config_generation":3' || fail "ringgatectl status"
"$CTL" --admin 127.0.0.1:1 status 2>"$RG_TMP/ctlerr" && fail "ringgatectl to a closed port succeeded"
grep -q "cannot reach" "$RG_TMP/ctlerr" || fail "ringgatectl: no clear error for a closed port"

# SIGTERM: exit 0, temporary files removed.
kill -TERM "$pid"
wait "$pid"
rc=$?
RG_PIDS=()
[[ $rc -eq 0 ]] || { tail -5 "$RG_TMP/log" >&2; fail "exit code $rc after SIGTERM"; }
[[ ! -e $demo_dir ]] || fail "demo directory left behind: $demo_dir"
echo "demo: ok"
