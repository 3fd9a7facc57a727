#!/usr/bin/env bash
# --validate refuses an ALPN ringgate does not serve. Every [quic] key
# reloads (issue 15): after POST /reload, new connections
# take the new retry, backlog, anti_port_scan, qlog_dir and idle_timeout
# (seen in the Retry and drop counters and in the qlog's transport
# parameters); an ALPN ringgate cannot serve, and a [quic] section removed,
# are refused with 400 naming them while the old configuration serves on.
# Args: ringgate ringgatectl h3client
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh" # find_gtlsclient, appliance_args
in_private_netns "$@"
appliance_args "$@" "h3client (libcurl with HTTP/3)"
H3=$TOOL
"$CTL" certgen --cert a.pem --key a.key localhost >/dev/null || fail "certgen"
NL=$'\n'
write_config() { # more [quic] lines
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433${1:+$NL$1}

[vhost localhost]
cert = $RG_TMP/a.pem
key = $RG_TMP/a.key
INI
}
# --validate refuses an ALPN ringgate cannot serve (it serves h3 only):
# offered first, it broke every h3 client
write_config "alpn = hq-interop, h3"
"$RG" --validate -c rg.ini >out 2>&1 && { cat out >&2; fail "--validate accepted alpn = hq-interop, h3"; }
grep -q "rg.ini:7: alpn: .*hq-interop" out || { cat out >&2; fail "--validate does not name rg.ini:7 alpn hq-interop"; }
write_config "alpn = h3"
"$RG" --validate -c rg.ini >out 2>&1 || { cat out >&2; fail "--validate refused alpn = h3"; }
write_config ""
"$RG" -c rg.ini 2>log &
pid=$!
RG_PIDS+=("$pid")
wait_for 10 curl -sf $ADMIN/health || { cat log >&2; fail "no /health"; }
gen() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["config_generation"] if all(g == s["config_generation"] for g in s["worker_generations"]) else -1)'; }
gen_is() { [[ $(gen) == "$1" ]]; }
wait_for 3 gen_is 1 || fail "generation 1 at start"

# reload_quic LINES: 200 and every worker on the next generation
reload_quic() {
	local g
	g=$(gen)
	write_config "$1"
	code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
	[[ $code == 200 ]] || { cat body >&2; fail "reload of [quic] '$1': HTTP $code"; }
	wait_for 5 gen_is $((g + 1)) || fail "workers not on generation $((g + 1)) after '$1'"
}
quic_drops() { metric_sum $ADMIN/metrics "ringgate_drops_total.worker=\"[0-9]+\",layer=\"quic\",reason=\"$1\"."; }
drops_above() { (( $(quic_drops "$1") > $2 )); }
get() { # NAME: one HTTP/3 request for https://NAME:4433/, trusting any certificate
	"$H3" --insecure --resolve "$1:4433:127.0.0.1" --connect-timeout 3 --quiet "https://$1:4433/" 2>/dev/null |
		grep -q "summary ok=1 failed=0"
}
get localhost || fail "HTTP/3 at start"
sleep 0.3 # the counters are published every 100 ms
[[ $(quic_drops retry_sent) == 0 ]] || fail "a Retry with retry = auto and an empty backlog"

# retry = on: the next connection is sent a Retry first
reload_quic "retry = on"
get localhost || fail "HTTP/3 with retry = on"
wait_for 3 drops_above retry_sent 0 || fail "retry = on reloaded, no Retry sent"
r=$(quic_drops retry_sent)
note "retry = on: retry_sent $r"

# retry = auto with backlog = 1: a Retry once half the backlog (0) is in
# use, i.e. always: the new backlog was taken
reload_quic "backlog = 1"
get localhost || fail "HTTP/3 with backlog = 1"
wait_for 3 drops_above retry_sent "$r" || fail "backlog = 1 reloaded, no Retry sent (retry_sent $r)"
reload_quic ""
r=$(quic_drops retry_sent)
get localhost || fail "HTTP/3 after retry and backlog went back to their defaults"
sleep 0.3
[[ $(quic_drops retry_sent) == "$r" ]] || fail "a Retry after retry = auto and backlog = 1024 came back"

# anti_port_scan: an unknown name is refused with an alert before, in
# silence after
get unknown.test && fail "an unknown SNI was served"
sleep 0.3
[[ $(quic_drops anti_port_scan) == 0 ]] || fail "anti_port_scan drops while it is off"
reload_quic "anti_port_scan = on"
get unknown.test && fail "an unknown SNI was served with anti_port_scan"
wait_for 3 drops_above anti_port_scan 0 || fail "anti_port_scan = on reloaded, unknown SNI not dropped silently"
note "anti_port_scan = on: drops $(quic_drops anti_port_scan)"

# qlog_dir, then idle_timeout: the qlog shows our transport parameters
mkdir -p q1 q2
reload_quic "qlog_dir = $RG_TMP/q1"
get localhost || fail "HTTP/3 with qlog_dir"
wait_for 3 compgen -G "q1/*.sqlog" || fail "qlog_dir reloaded, no qlog file"
wait_for 3 grep -qE '"max_idle_timeout": ?30000[,}]' q1/*.sqlog ||
	{ grep -o '"max_idle_timeout":[^,]*' q1/*.sqlog >&2; fail "the default idle_timeout (30 s) is not in the qlog"; }
reload_quic "qlog_dir = $RG_TMP/q2${NL}idle_timeout = 7s"
get localhost || fail "HTTP/3 with idle_timeout = 7s"
wait_for 3 compgen -G "q2/*.sqlog" || fail "the new qlog_dir is not used"
wait_for 3 grep -qE '"max_idle_timeout": ?7000[,}]' q2/*.sqlog ||
	{ grep -o '"max_idle_timeout":[^,]*' q2/*.sqlog >&2; fail "idle_timeout = 7s reloaded, not in the transport parameters"; }

# zero_rtt: on after a reload, a resumed connection's early data is
# accepted; off again, refused (gtlsclient, from ngtcp2, sends 0-RTT)
if GTLS=$(find_gtlsclient); then
	mkdir -p st
	gtls() { # NAME ARGS...
		local name=$1 rc=0
		shift
		timeout 30 "$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump \
			--session-file=st/sess --tp-file=st/tp "$@" 127.0.0.1 4433 https://localhost:4433/ \
			>"$name.log" 2>&1 || rc=$?
		[[ $rc == 0 ]] || { tail -20 "$name.log" >&2; fail "gtlsclient $name exited $rc"; }
	}
	zrtt() { metric_sum $ADMIN/metrics "ringgate_quic_0rtt_$1_total"; }
	above() { (( $(zrtt "$1") > $2 )); }
	reload_quic "zero_rtt = on"
	gtls z1 --wait-for-ticket
	[[ -s st/sess ]] || fail "no session ticket saved"
	gtls z2
	grep -q 'type=0RTT' z2.log || fail "gtlsclient sent no 0-RTT"
	wait_for 3 above accepted 0 || fail "zero_rtt = on reloaded, 0-RTT not accepted"
	acc=$(zrtt accepted) rej=$(zrtt rejected)
	reload_quic "zero_rtt = off"
	gtls z3
	wait_for 3 above rejected "$rej" || fail "zero_rtt = off reloaded, 0-RTT not refused"
	[[ $(zrtt accepted) == "$acc" ]] || fail "zero_rtt = off reloaded, 0-RTT still accepted"
	note "zero_rtt: accepted $acc, then rejected $(zrtt rejected)"
else
	note "gtlsclient not installed (ngtcp2-client): zero_rtt reload not checked"
fi

# an ALPN ringgate does not serve: 400 naming the key, nothing changes
g=$(gen)
write_config "alpn = hq-interop, h3"
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 400 ]] || fail "alpn = hq-interop, h3: HTTP $code"
grep -q "rg.ini:7: alpn: .*hq-interop" body || { cat body >&2; fail "the refusal does not name rg.ini:7 alpn hq-interop"; }
[[ $(gen) == "$g" ]] || fail "a refused alpn replaced the running config"

# [quic] removed: only a restart can do that: refused, and QUIC serves on
cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082
INI
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 400 ]] || fail "[quic] removed by a reload: HTTP $code"
grep -q "\[quic\]" body || { cat body >&2; fail "the refusal does not name [quic]"; }
get localhost || fail "HTTP/3 after the refused removal of [quic]"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc == 0 ]] || { tail -20 log >&2; fail "ringgate exited $rc"; }
rg_clean_log log ringgate
echo "quic_reload: ok"
