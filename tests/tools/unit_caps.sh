#!/usr/bin/env bash
# ringgate works with exactly what the systemd unit gives it: an
# unprivileged user with only the unit's AmbientCapabilities (and the same
# bounding set). It binds a QUIC port below 1024, creates a TUN device and
# gives it its address over netlink, answers the admin API, and stops
# cleanly on SIGTERM. setpriv stands in for systemd (no PID 1 needed).
# Usage: unit_caps.sh RINGGATE RINGGATECTL UNIT
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1")
CTL=$(realpath "$2")
UNIT=$(realpath "$3")
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"

amb=$(sed -n 's/^AmbientCapabilities=//p' "$UNIT")
bnd=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[[ -n $amb ]] || fail "the unit grants no AmbientCapabilities: ringgate would start as user ringgate with none"
[[ $amb == "$bnd" ]] || fail "AmbientCapabilities ($amb) and CapabilityBoundingSet ($bnd) differ"
grep -q '^User=' "$UNIT" || fail "the unit does not set User="
caps=$(for c in $amb; do c=${c#CAP_}; printf '+%s,' "${c,,}"; done)
caps=${caps%,}
note "capabilities from the unit: $caps"

uid=65534 # nobody: no file of its own, no group
chmod 755 "$RG_TMP"
cd "$RG_TMP" || fail "tmp"
"$CTL" certgen --cert c.pem --key k.pem example.com >/dev/null || fail "certgen"
"$CTL" genkey >t.key || fail "genkey"
chown "$uid" c.pem k.pem t.key
# The TUN node is 0666 on a stock system (the driver asks for it); a copy
# with that mode is bound over it, in this test's mount namespace only.
mknod tun c 10 200 && chmod 666 tun || skip "cannot make a TUN device node here"
cat >r.ini <<INI
[appliance]
workers = 1
admin = 127.0.0.1:8082
[quic]
listen = 127.0.0.1:443
[vhost example.com]
cert = $RG_TMP/c.pem
key = $RG_TMP/k.pem
[backend app]
server = 127.0.0.1:8080
[route app]
host = example.com
backend = app
[tunnel]
listen = 127.0.0.1:51820
private_key_file = $RG_TMP/t.key
tun = rgcaps0
address = 10.8.0.1/24
INI

unshare -m -- bash -c 'mount --make-rprivate / && mount --bind "$0/tun" /dev/net/tun &&
	exec setpriv --reuid="$1" --regid="$1" --clear-groups --inh-caps=-all,"$2" --ambient-caps="$2" \
		--bounding-set=-all,"$2" "$3" -c "$0/r.ini"' "$RG_TMP" "$uid" "$caps" "$RG" >log 2>&1 &
pid=$!
RG_PIDS+=("$pid")
wait_for 20 curl -sf http://127.0.0.1:8082/health || { cat log >&2; fail "ringgate did not start with $caps"; }
# The process that serves is setpriv's exec of ringgate (unshare forked it).
rpid=$(pgrep -P "$pid" -x ringgate || echo "$pid")
[[ $(stat -c %u "/proc/$rpid") == "$uid" ]] || fail "ringgate is not running as uid $uid"
note "$(grep -E '^Cap(Eff|Bnd|Amb)' "/proc/$rpid/status" | xargs)"
ss -Hlun 'sport = :443' | grep -q . || fail "no UDP socket on port 443"
ip -br addr show rgcaps0 | grep -q '10\.8\.0\.1/24' || { cat log >&2; fail "TUN rgcaps0 has no 10.8.0.1/24"; }
kill -TERM "$rpid"
wait "$pid"
rc=$?
rg_forget "$pid"
[[ $rc -eq 0 ]] || { cat log >&2; fail "ringgate exited $rc on SIGTERM"; }
grep -qi 'permission denied\|operation not permitted' log && { cat log >&2; fail "a permission was refused"; }
rg_clean_log log ringgate
echo "unit_caps: ok"
