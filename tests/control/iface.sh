#!/usr/bin/env bash
# listen = iface NAME:PORT end to end, in a private network namespace with a
# veth pair: an address added is served within 2 s, removed it is unbound
# within 2 s; link down and up; the interface deleted and created again; a
# static listener on another address is undisturbed throughout.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1")
ADMIN=http://127.0.0.1:8082
ip link add rgi0 type veth peer name rgi0p 2>/dev/null || skip "the kernel has no veth interfaces"
ip link set rgi0p up && ip link set rgi0 up

cat >"$RG_TMP/rg.ini" <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[tunnel]
listen = iface rgi0:51820, 127.0.0.1:51821
private_key_file = $RG_TMP/tunnel.key
INI
wg genkey >"$RG_TMP/tunnel.key" || fail "wg genkey"
chmod 600 "$RG_TMP/tunnel.key"
"$RG" --validate -c "$RG_TMP/rg.ini" || fail "config does not validate"
"$RG" -c "$RG_TMP/rg.ini" 2>"$RG_TMP/log" &
RG_PIDS+=("$!")
wait_for 10 curl -sf $ADMIN/health || { cat "$RG_TMP/log" >&2; fail "no /health"; }

bound() { # the bound listeners, sorted, comma-separated; link-local left
	# out (it is bound too, but its address depends on the MAC)
	curl -sf $ADMIN/status | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(",".join(sorted(l["address"] for l in s["listeners"]
                      if l["bound"] and not l["address"].startswith("[fe80:"))))'
}
expect() { # seconds want what
	local t=$1 want=$2 what=$3 have
	for _ in $(seq $((t * 20))); do
		have=$(bound)
		[[ $have == "$want" ]] && { note "$what: {$have}"; return 0; }
		sleep 0.05
	done
	cat "$RG_TMP/log" >&2
	fail "$what: bound {$have}, want {$want}"
}
rx() { metric_sum $ADMIN/metrics 'ringgate_rx_datagrams_by_listener_total\{.*listener="tunnel"'; }
rx_is() { [[ $(rx) == "$1" ]]; }

expect 2 "127.0.0.1:51821" "no address on rgi0 yet"
ip addr add 10.77.0.1/24 dev rgi0
expect 2 "10.77.0.1:51820,127.0.0.1:51821" "address added"
before=$(rx)
send_udp 10.77.0.1 51820 20 100
send_udp 127.0.0.1 51821 5 100
wait_for 3 rx_is $((before + 25)) || fail "datagrams to the new address not received ($(rx) - $before)"
ip addr add 2001:db8:77::1/64 dev rgi0 nodad
expect 2 "10.77.0.1:51820,127.0.0.1:51821,[2001:db8:77::1]:51820" "IPv6 address added"
ip addr del 10.77.0.1/24 dev rgi0
expect 2 "127.0.0.1:51821,[2001:db8:77::1]:51820" "IPv4 address removed"
ip addr add 10.77.0.2/24 dev rgi0
expect 2 "10.77.0.2:51820,127.0.0.1:51821,[2001:db8:77::1]:51820" "another address"
ip link set rgi0 down
expect 2 "127.0.0.1:51821" "link down"
ip link set rgi0 up
# IPv6 addresses are flushed on link down (keep_addr_on_down = 0)
expect 2 "10.77.0.2:51820,127.0.0.1:51821" "link up"
ip link del rgi0
expect 2 "127.0.0.1:51821" "interface deleted"
ip link add rgi0 type veth peer name rgi0p && ip link set rgi0p up
ip addr add 10.77.0.3/24 dev rgi0 && ip link set rgi0 up
expect 2 "10.77.0.3:51820,127.0.0.1:51821" "interface created again"
before=$(rx)
send_udp 10.77.0.3 51820 10 100
send_udp 127.0.0.1 51821 10 100
wait_for 3 rx_is $((before + 20)) || fail "datagrams after re-creation not received"
echo "iface: ok"
