#!/usr/bin/env bash
# Real traffic through ringgate's TUN device, in two network namespaces
# joined by a veth pair (10.200.0.1 | 10.200.0.2; a dual-stack tunnel,
# 10.8.0.1 | 10.8.0.2 and fd00:8::1 | fd00:8::2, from one `address` list).
# Side A is always ringgate (2 workers: TUN packets and sessions are sharded
# between them). Side B, by mode:
#   wggo-client     a stock wireguard-go client initiates to ringgate
#   wggo-responder  ringgate initiates ([peer] endpoint =) to wireguard-go
#   rg2rg           another ringgate initiates to ringgate
# Checks: ping both ways, 20 MB over TCP each way with a SHA-256 compared
# (A -> B goes through A's TUN reads: TSO super-packets segmented by
# ringgate), the same over inner IPv6 (ping6, 4 MB each way), GET /peers on
# ringgate showing the peer with bytes both ways, and reloads that change
# the address list (IPv4, IPv6, an IPv4 secondary whose primary leaves).
# Usage: tun.sh RINGGATE MODE [RINGGATE ARGS...] (e.g. --ring-backend epoll)
. "$(dirname "$0")/../lib.sh"
RG=$(realpath "$1") MODE=$2 XFER=$(realpath "$(dirname "$0")/xfer.py")
shift 2
RG_ARGS=("$@")
[[ $(id -u) -eq 0 ]] || skip "needs root for network namespaces"
[[ -c /dev/net/tun ]] || skip "the kernel offers no /dev/net/tun"
[[ $MODE == wggo-* ]] && { command -v wireguard-go >/dev/null || fail "wireguard-go not installed: tools/setup.sh installs it"; }
command -v wg >/dev/null || fail "wg not installed: tools/setup.sh installs wireguard-tools"
command -v ping >/dev/null || fail "ping not installed: tools/setup.sh installs iputils-ping"
A=rga$$ B=rgb$$
ip netns add $A && RG_NETNS+=($A) && ip netns add $B && RG_NETNS+=($B) || skip "cannot create network namespaces"
ip link add va$$ netns $A type veth peer name vb$$ netns $B || skip "the kernel has no veth interfaces"
ip -n $A addr add 10.200.0.1/24 dev va$$ && ip -n $A link set va$$ up && ip -n $A link set lo up
ip -n $B addr add 10.200.0.2/24 dev vb$$ && ip -n $B link set vb$$ up && ip -n $B link set lo up
na() { ip netns exec $A "$@"; }
nb() { ip netns exec $B "$@"; }
cd "$RG_TMP" || fail "tmp"
wg genkey >a.key 2>/dev/null
wg genkey >b.key 2>/dev/null
apub=$(wg pubkey <a.key) bpub=$(wg pubkey <b.key)

# rg_conf LISTEN KEY TUN ADDRESS PEERKEY PEERALLOWED [ENDPOINT]
rg_conf() {
	cat <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[tunnel]
listen = $1
private_key_file = $RG_TMP/$2
tun = $3
address = $4
mtu = 1420

[peer other]
public_key = $5
allowed_ips = $6
INI
	[[ -n ${7:-} ]] && printf 'endpoint = %s\npersistent_keepalive = 0\n' "$7"
}

start_rg() { # NS NAME CONF
	ip netns exec "$1" "$RG" "${RG_ARGS[@]}" -c "$3" 2>"$2.log" &
	RG_PIDS+=("$!")
	[[ $2 == a ]] && RGA_PID=$!
	wait_for 10 ip netns exec "$1" curl -sf http://127.0.0.1:8082/health || { cat "$2.log" >&2; fail "ringgate $2 did not start"; }
}

start_wggo() { # IFNAME
	nb wireguard-go -f "$1" >wggo.log 2>&1 &
	RG_PIDS+=("$!")
	wait_for 10 nb ip link show "$1" || { cat wggo.log >&2; fail "wireguard-go did not create $1"; }
}

# Ringgate A's TUN is dual-stack from one `address` list (wg-quick's
# Address); wireguard-go's gets its addresses by hand.
A_ADDR="10.8.0.1/24, fd00:8::1/64" A_ALLOWED="10.8.0.2/32, fd00:8::2/128"
wggo_addr() { # IFNAME
	nb ip addr add 10.8.0.2/24 dev "$1" && nb ip addr add fd00:8::2/64 dev "$1" nodad &&
		nb ip link set "$1" mtu 1420 up || fail "addresses of $1"
}

case $MODE in
wggo-client)
	rg_conf 10.200.0.1:51820 a.key rga$$ "$A_ADDR" "$bpub" "$A_ALLOWED" >a.ini
	start_rg $A a a.ini
	start_wggo wgb$$
	nb wg set wgb$$ private-key "$RG_TMP/b.key" peer "$apub" endpoint 10.200.0.1:51820 allowed-ips 10.8.0.0/24,fd00:8::/64 ||
		fail "wg set"
	wggo_addr wgb$$
	first=nb
	;;
wggo-responder)
	rg_conf 10.200.0.1:51820 a.key rga$$ "$A_ADDR" "$bpub" "$A_ALLOWED" 10.200.0.2:51821 >a.ini
	start_wggo wgb$$
	nb wg set wgb$$ private-key "$RG_TMP/b.key" listen-port 51821 peer "$apub" allowed-ips 10.8.0.0/24,fd00:8::/64 ||
		fail "wg set"
	wggo_addr wgb$$
	start_rg $A a a.ini
	first=na
	;;
rg2rg)
	rg_conf 10.200.0.1:51820 a.key rga$$ "$A_ADDR" "$bpub" "$A_ALLOWED" >a.ini
	rg_conf 10.200.0.2:51820 b.key rgb$$ "10.8.0.2/24, fd00:8::2/64" "$apub" "10.8.0.0/24, fd00:8::/64" \
		10.200.0.1:51820 >b.ini
	start_rg $A a a.ini
	start_rg $B b b.ini
	first=nb
	;;
*) fail "unknown mode $MODE" ;;
esac
[[ $first == na ]] && dst=10.8.0.2 || dst=10.8.0.1
$first ping -c 1 -W 1 $dst >/dev/null 2>&1 # starts the handshake
pings() { $first ping -c 1 -W 1 $dst; }
dump() {
	local n
	for n in $A $B; do
		ip netns exec $n curl -sf http://127.0.0.1:8082/metrics 2>/dev/null |
			grep -E '^ringgate_(tunnel|drops|tun_|rx_datagrams_total|tx_datagrams_total)' | grep -v ' 0$' | sed "s/^/$n: /" >&2
	done
	cat a.log >&2
	[[ -f b.log ]] && cat b.log >&2
	[[ -f wggo.log ]] && tail -20 wggo.log >&2
	return 0
}
wait_for 15 pings || { dump; fail "no ping through the tunnel ($MODE)"; }
na ping -c 3 -i 0.2 -W 2 10.8.0.2 >/dev/null || fail "ping A -> B"
nb ping -c 3 -i 0.2 -W 2 10.8.0.1 >/dev/null || fail "ping B -> A"
note "${SECONDS}s $MODE: ping both ways"
# inner IPv6: the address list gave A's TUN fd00:8::1/64 next to 10.8.0.1/24
na ip -o -6 addr show dev rga$$ | grep -q "inet6 fd00:8::1/64" ||
	{ na ip addr show dev rga$$ >&2; fail "fd00:8::1/64 of the address list is not on the TUN device"; }
na ip -o -4 addr show dev rga$$ | grep -q "inet 10.8.0.1/24" || fail "10.8.0.1/24 of the address list is not on the TUN"
na ping -6 -c 3 -i 0.2 -W 2 fd00:8::2 >/dev/null || { dump; fail "ping6 A -> B"; }
nb ping -6 -c 3 -i 0.2 -W 2 fd00:8::1 >/dev/null || { dump; fail "ping6 B -> A"; }
note "${SECONDS}s $MODE: ping6 both ways"

head -c $((20 << 20)) /dev/urandom >data
# xfer SENDER_NS RECEIVER_NS RECEIVER_ADDR PORT [FLOWS]
xfer() {
	local flows=${5:-1}
	ip netns exec "$2" timeout 45 python3 "$XFER" recv "$3" "$4" "$flows" >"recv$4.out" 2>&1 &
	local rpid=$!
	RG_PIDS+=("$rpid")
	wait_for 20 grep -q ready "recv$4.out" || { cat "recv$4.out" >&2; fail "receiver did not start"; }
	ip netns exec "$1" timeout 45 python3 "$XFER" send "$3" "$4" data "$flows" >"send$4.out" ||
		{ dump; fail "send to $3 failed"; }
	wait "$rpid"
	local sent got
	sent=$(cut -d' ' -f1,2 "send$4.out" | sort) got=$(grep -v ready "recv$4.out" | sort)
	[[ $sent == "$got" && $(wc -l <"send$4.out") -eq $flows ]] ||
		{ dump; fail "transfer to $3:$4: sent '$sent' received '$got'"; }
	note "${SECONDS}s $MODE: $flows x $(( $(stat -c %s data) >> 20 )) MB to $3:$4 in $(awk '{ printf "%s%s", s, $3; s = "," }' "send$4.out") s, sha256 matches"
}
xfer $B $A 10.8.0.1 5001
xfer $A $B 10.8.0.2 5002
# TCP over inner IPv6, each way, the bytes checked
head -c $((4 << 20)) /dev/urandom >data
xfer $B $A fd00:8::1 5011
xfer $A $B fd00:8::2 5012
# Several flows at once: a TUN queue is picked by the flow's hash, so some
# packets are read on the worker that does not hold the session and are
# handed over (until the kernel's automq steers the flow to the queue its
# answers are written on).
head -c $((2 << 20)) /dev/urandom >data
xfer $A $B 10.8.0.2 5003 6

msum() { na curl -sf http://127.0.0.1:8082/metrics | sum_metrics "$1"; }
# The 20 MB B -> A arrived as TCP segments that ringgate A wrote to its TUN
# coalesced into GSO super-packets (gro.h): at least some of them.
sleep 0.3 # counters are published every 100 ms
cw=$(msum '^ringgate_tun_coalesced_writes_total') cs=$(msum '^ringgate_tun_coalesced_segments_total')
note "${SECONDS}s $MODE: ringgate A TUN: $(msum '^ringgate_tun_writes_total') writes, $cw of them coalesced from $cs segments"
(( cw > 0 && cs >= 2 * cw )) || { dump; fail "no coalesced TUN write after 20 MB ($cw super-packets, $cs segments)"; }
# The UDP checks concern ringgate A's TUN side only, whatever B is: they
# run in the rg2rg modes (one per ring backend) to keep each test short.
if [[ $MODE == rg2rg ]]; then
# udp_xfer OUT PORT N XFER-SEND-ARGS...: a receiver for N datagrams on B
# (report in OUT), the sender on A; sets good and bad.
udp_xfer() {
	local out=$1 port=$2 n=$3
	shift 3
	nb timeout 30 python3 "$XFER" udp-recv 10.8.0.2 "$port" "$n" >"$out" 2>&1 &
	local upid=$!
	RG_PIDS+=("$upid")
	wait_for 20 grep -q ready "$out" || { cat "$out" >&2; fail "UDP receiver did not start"; }
	na timeout 30 python3 "$XFER" "$@" >/dev/null || fail "UDP $1 failed"
	wait "$upid"
	read -r good bad < <(grep -v ready "$out")
	sleep 0.3 # counters are published every 100 ms
}
# UDP with GSO from A: with TUN_F_USO4 the kernel hands the TUN one
# super-packet per sendmsg and ringgate cuts it into datagrams (USO).
sleep 0.3 # counters are published every 100 ms
r0=$(msum '^ringgate_tun_reads_total') s0=$(msum '^ringgate_tun_segments_total')
udp_xfer udp.out 6000 400 udp-send 10.8.0.2 6000 400 1200
ugood=$good ubad=$bad
r1=$(msum '^ringgate_tun_reads_total') s1=$(msum '^ringgate_tun_segments_total')
note "${SECONDS}s $MODE: UDP GSO: $ugood of 400 datagrams intact, $ubad damaged; TUN $((r1 - r0)) reads -> $((s1 - s0)) packets"
(( ubad == 0 && ugood >= 360 )) || fail "UDP through the tunnel: $ugood intact, $ubad damaged"
if grep -q 'offloads .*uso4' a.log; then
	(( s1 - s0 >= 2 * (r1 - r0) )) || fail "no USO super-packet was read and segmented"
fi

# 64 UDP flows from A (64 source ports): the TUN queue of a new flow is
# picked by its hash, so about half are read by the worker without the
# session and must be handed over to it (shard.h). All must arrive.
h0=$(msum '^ringgate_tun_handoff_out_total') i0=$(msum '^ringgate_tun_handoff_in_total')
udp_xfer flows.out 6001 64 udp-flows 10.8.0.2 6001 64 200
fgood=$good fbad=$bad
h1=$(msum '^ringgate_tun_handoff_out_total') i1=$(msum '^ringgate_tun_handoff_in_total')
note "${SECONDS}s $MODE: 64 UDP flows: $fgood intact, $fbad damaged; $((h1 - h0)) TUN reads handed over, $((i1 - i0)) taken over"
(( fgood == 64 && fbad == 0 )) || fail "UDP flows through the tunnel: $fgood of 64 intact, $fbad damaged"
(( h1 - h0 > 0 && h1 - h0 == i1 - i0 )) || fail "no hand-off between the workers ($((h1 - h0)) out, $((i1 - i0)) in)"
fi

peers=$(na curl -sf http://127.0.0.1:8082/peers) || fail "GET /peers"
python3 - "$peers" "$bpub" <<'PY' || fail "/peers: $peers"
import json, sys
d = json.loads(sys.argv[1])
p = [x for x in d["peers"] if x["public_key"] == sys.argv[2]]
assert len(p) == 1, "peer missing"
p = p[0]
assert p["rx_bytes"] > 20 << 20 and p["tx_bytes"] > 20 << 20, "bytes"
assert p["last_handshake"] > 0 and p["endpoint"] and p["worker"] is not None, "handshake"
assert p["allowed_ips"] == ["10.8.0.2/32", "fd00:8::2/128"], "allowed ips"
PY
note "${SECONDS}s $MODE: /peers $peers"

# a reload while the tunnel carries traffic: no session dropped, no packet
# lost. A dropped session shows on A as data for an index it no longer
# knows (drop_no_session, drop_key_expired) or as packets A must queue
# behind a handshake of its own (tx queued). A handshake the peer starts
# on its own timers is not a drop (CI once saw wireguard-go start one
# during the reload window, with the session and every ping intact): it is
# reported, not failed.
lost() { msum 'ringgate_tunnel_rx_total\{.*verdict="drop_(no_session|key_expired)"'; }
queued() { msum 'ringgate_tunnel_tx_total\{.*verdict="queued"'; }
hs0=$(msum 'ringgate_tunnel_rx_total\{.*verdict="handshake"') s0=$(msum '^ringgate_tunnel_sessions')
l0=$(lost) q0=$(queued)
(( s0 >= 1 )) || fail "ringgate_tunnel_sessions is $s0 with a live tunnel"
generation() { na curl -sf http://127.0.0.1:8082/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["config_generation"])'; }
g0=$(generation)
na ping -c 40 -i 0.05 -W 1 10.8.0.2 >reload-ping.out 2>&1 &
pp=$!
sleep 0.5
kill -HUP "$RGA_PID"
newgen() { (( $(generation) > g0 )); }
wait_for 5 newgen || { tail -5 a.log >&2; fail "SIGHUP: no new generation after $g0"; }
wait $pp
grep -q " 0% packet loss" reload-ping.out || fail "packets lost across a reload: $(grep loss reload-ping.out)"
sleep 0.3 # counters are published every 100 ms
hs1=$(msum 'ringgate_tunnel_rx_total\{.*verdict="handshake"') s1=$(msum '^ringgate_tunnel_sessions')
l1=$(lost) q1=$(queued)
(( s1 == s0 && l1 == l0 && q1 == q0 )) ||
	fail "the reload dropped sessions: sessions $s0 -> $s1, data for unknown sessions $l0 -> $l1, packets queued behind a handshake $q0 -> $q1 (handshakes $hs0 -> $hs1)"
note "${SECONDS}s $MODE: reload under traffic: 40 pings, 0% loss, $s1 sessions kept, no data refused or queued, handshakes received $hs0 -> $hs1"

# reloads that change the [tunnel] address list: the TUN device then
# carries exactly the new list (addresses that left removed, those that
# came added), and an address in both lists is left alone (no log line for
# it). Link-local fe80:: addresses are the kernel's, not ours.
tun_addrs() { na ip -o addr show dev rga$$ | awk '$3 ~ /^inet/ && $4 !~ /^fe80/ { print $4 }' | sort | xargs; }
set_address() { # LIST, as written in the file
	sed "s|^address = .*|address = $1|" a.ini >a.new && mv a.new a.ini
	local want lines
	want=$(tr ',' '\n' <<<"$1" | tr -d ' ' | sort | xargs)
	lines=$(wc -l <a.log)
	g0=$(generation)
	kill -HUP "$RGA_PID"
	wait_for 5 newgen || { tail -5 a.log >&2; fail "SIGHUP: no new generation after $g0"; }
	carries() { [[ $(tun_addrs) == "$want" ]]; }
	wait_for 5 carries || { tail -8 a.log >&2; fail "reload to '$1': the TUN carries '$(tun_addrs)', want '$want'"; }
	tail -n +$((lines + 1)) a.log >reload.log
}
has_addr4() { na ip -o -4 addr show dev rga$$ | grep -q "inet $1/"; }
unchanged() { # ADDR/PREFIX: the last reload logged nothing about it
	! grep -q "address $1 " reload.log || { cat reload.log >&2; fail "the reload touched $1, in both lists"; }
}
# 1: another IPv6 address, and 10.8.0.5 joins as a secondary of 10.8.0.1
# (same /24); 10.8.0.1 is in both lists
set_address "10.8.0.1/24, 10.8.0.5/24, fd00:8::11/64"
unchanged 10.8.0.1/24
nb ping -6 -c 3 -i 0.2 -W 2 fd00:8::11 >readdress.out 2>&1 || { cat readdress.out >&2; fail "ping6 to the new fd00:8::11"; }
! nb ping -6 -c 1 -W 1 fd00:8::1 >/dev/null 2>&1 || fail "fd00:8::1 still answers after the reload removed it"
note "${SECONDS}s $MODE: reload changed the TUN's IPv6 address to fd00:8::11 (answers ping6, fd00:8::1 gone), 10.8.0.1 left alone"
# 2: the primary 10.8.0.1 leaves; the kernel takes its secondaries along,
# but 10.8.0.5 is in both lists and must stay
set_address "10.8.0.5/24, fd00:8::11/64"
unchanged fd00:8::11/64
nb ping -c 3 -i 0.2 -W 2 10.8.0.5 >readdress.out 2>&1 || { cat readdress.out >&2; fail "ping 10.8.0.5 after its primary left"; }
! has_addr4 10.8.0.1 || fail "10.8.0.1 still on the TUN device after the reload removed it"
note "${SECONDS}s $MODE: 10.8.0.5 outlived the removal of its primary 10.8.0.1"
# 3: the original list again, the tunnel carries both families
set_address "$A_ADDR"
na ping -c 3 -i 0.2 -W 2 10.8.0.2 >readdress.out 2>&1 || { cat readdress.out >&2; fail "ping after the list came back"; }
nb ping -6 -c 3 -i 0.2 -W 2 fd00:8::1 >readdress.out 2>&1 || { cat readdress.out >&2; fail "ping6 after the list came back"; }
note "${SECONDS}s $MODE: the original address list is back, ping and ping6 pass"

# roaming: the wireguard-go client moves to new source ports. The kernel's
# reuseport hash alone would send some of them to the other worker (which
# would hand each datagram to the session's worker); the reuseport program
# (worker_tunnel_steer) delivers every message addressed to the session to
# its worker directly, since the receiver index names it. So: pings pass
# from 16 ports, the session follows the client (no new handshake), and no
# datagram needed a hand-off.
if [[ $MODE == wggo-client ]]; then
	hs0=$(msum 'ringgate_tunnel_rx_total\{.*verdict="handshake"')
	moved0=$(msum '^ringgate_tunnel_handoffs_received_total')
	for port in $(seq 52001 52016); do
		nb wg set wgb$$ listen-port $port || fail "wg set listen-port"
		nb ping -c 3 -i 0.1 -W 2 10.8.0.1 >roam.out 2>&1 || { cat roam.out >&2; fail "ping after roaming to port $port"; }
	done
	moved=$(( $(msum '^ringgate_tunnel_handoffs_received_total') - moved0 ))
	(( moved == 0 )) || fail "16 source ports: $moved datagrams reached the wrong worker and were handed over (reuseport steering?)"
	hs1=$(msum 'ringgate_tunnel_rx_total\{.*verdict="handshake"')
	(( hs1 == hs0 )) || fail "roaming made new handshakes ($hs0 -> $hs1): the session did not follow the client"
	nb ping -c 5 -i 0.1 -W 2 10.8.0.1 >roam.out 2>&1 || fail "ping after roaming"
	note "${SECONDS}s $MODE: roamed over 16 source ports: pings pass, no new handshake, $moved datagrams handed over"
fi
reads=$(msum '^ringgate_tun_reads_total') segs=$(msum '^ringgate_tun_segments_total')
writes=$(msum '^ringgate_tun_writes_total') hand=$(msum '^ringgate_tun_handoff_out_total')
sync=$(msum "^ringgate_tun_sync_writes_total")
bad=$(msum 'ringgate_drops_total\{.*reason="(tun_bad_vnet|tun_write|handoff_full)"')
note "${SECONDS}s $MODE: ringgate A TUN: $reads reads -> $segs packets, $writes writes ($sync without the ring), $hand handed to the other worker, $bad dropped"
na curl -sf http://127.0.0.1:8082/metrics | grep -E '^ringgate_(tunnel_tx_total|tunnel_rx_total|drops_total).*(drop|reason)' | grep -v ' 0$' >&2
if grep -q 'offloads .*tso4' a.log; then
	(( segs > reads )) || fail "no TSO super-packet was read and segmented ($reads reads, $segs packets)"
fi
for f in a.log b.log; do
	[[ -f $f ]] && rg_clean_log "$f"
done
echo "tun $MODE: ok (${SECONDS}s)"
