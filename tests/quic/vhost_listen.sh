#!/usr/bin/env bash
# [vhost] listen (issue 15): a name bound to one [quic] listener is served
# there only; on another listener it is an unknown name, refused with an
# alert, or in silence with anti_port_scan. A vhost without listen is
# served on every listener. Two listeners: 127.0.0.1:4433 and :4434.
# Args: ringgate ringgatectl h3client
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh" # appliance_args
in_private_netns "$@"
appliance_args "$@" "h3client (libcurl with HTTP/3)"
H3=$TOOL
"$CTL" certgen --cert a.pem --key a.key a.test >/dev/null || fail "certgen a"
"$CTL" certgen --cert b.pem --key b.key b.test >/dev/null || fail "certgen b"
write_config() { # [quic] extra line
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433, 127.0.0.1:4434
$1

[vhost a.test]
cert = $RG_TMP/a.pem
key = $RG_TMP/a.key
listen = 127.0.0.1:4433

[vhost b.test]
cert = $RG_TMP/b.pem
key = $RG_TMP/b.key
INI
}
write_config ""
"$RG" -c rg.ini 2>log &
pid=$!
RG_PIDS+=("$pid")
wait_for 10 curl -sf $ADMIN/health || { cat log >&2; fail "no /health"; }
quic_drops() { metric_sum $ADMIN/metrics "ringgate_drops_total.worker=\"[0-9]+\",layer=\"quic\",reason=\"$1\"."; }
drops_above() { (( $(quic_drops "$1") > $2 )); }
get() { # NAME PORT CERT: one HTTP/3 request trusting CERT only
	"$H3" --cacert "$RG_TMP/$3" --resolve "$1:$2:127.0.0.1" --connect-timeout 3 --quiet "https://$1:$2/" 2>/dev/null |
		grep -q "summary ok=1 failed=0"
}
get a.test 4433 a.pem || fail "a.test not served on its listener 4433"
get b.test 4433 b.pem || fail "b.test (every listener) not served on 4433"
get b.test 4434 b.pem || fail "b.test (every listener) not served on 4434"
get a.test 4434 a.pem && fail "a.test, bound to 4433, served on 4434"
# refused as an unknown name (an alert, anti_port_scan is off): and not
# with another vhost's certificate either
get a.test 4434 b.pem && fail "a.test on 4434 answered with b.test's certificate"
sleep 0.3
[[ $(quic_drops anti_port_scan) == 0 ]] || fail "anti_port_scan drops while it is off"

# anti_port_scan on: the bound name on the other listener gets silence
write_config "anti_port_scan = on"
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 200 ]] || { cat body >&2; fail "reload: HTTP $code"; }
sleep 0.5
get a.test 4434 a.pem && fail "a.test served on 4434 with anti_port_scan"
wait_for 3 drops_above anti_port_scan 0 || fail "a.test on 4434 not dropped silently with anti_port_scan"
note "anti_port_scan drops: $(quic_drops anti_port_scan)"
get a.test 4433 a.pem || fail "a.test not served on 4433 with anti_port_scan"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc == 0 ]] || { tail -20 log >&2; fail "ringgate exited $rc"; }
rg_clean_log log ringgate
echo "vhost_listen: ok"
