#!/usr/bin/env bash
# A stock wireguard-go client against a ringgate tunnel server, in two
# network namespaces joined by a veth pair (addresses only inside them).
# This configuration has no TUN device (tun.sh carries real traffic), so
# what is proved is the wire protocol:
# wireguard-go completes the handshake with us (its latest-handshake is
# set), and its data packets are authenticated and decrypted by ringgate
# (counted as data, then dropped for lack of a TUN device). Authorization
# through peers_file: an unknown key gets no tunnel, is admitted after it is
# added (inotify reload), and is cut off when removed.
. "$(dirname "$0")/../lib.sh"
RG=$(realpath "$1")
command -v wireguard-go >/dev/null || fail "wireguard-go not installed: tools/setup.sh installs it"
command -v wg >/dev/null || fail "wg not installed: tools/setup.sh installs wireguard-tools"
command -v ping >/dev/null || fail "ping not installed: tools/setup.sh installs iputils-ping"
[[ -c /dev/net/tun ]] || skip "the kernel offers no /dev/net/tun"
S=rgs$$ C=rgc$$ WG=wgc$$
ip netns add $S && RG_NETNS+=($S) && ip netns add $C && RG_NETNS+=($C) || skip "cannot create network namespaces"
ip link add vs$$ netns $S type veth peer name vc$$ netns $C || skip "the kernel has no veth interfaces"
ip -n $S addr add 10.200.0.1/24 dev vs$$ && ip -n $S link set vs$$ up && ip -n $S link set lo up
ip -n $C addr add 10.200.0.2/24 dev vc$$ && ip -n $C link set vc$$ up && ip -n $C link set lo up

cd "$RG_TMP" || fail "tmp"
wg genkey >srv.key 2>/dev/null
wg genkey >cli.key 2>/dev/null
srvpub=$(wg pubkey <srv.key) clipub=$(wg pubkey <cli.key)
echo "$clipub 10.8.0.2/32" >peers
# and 6,000 more peers that never connect: each worker must make room for
# every configured peer (twice, for reloads): 16,384 sessions, not 4,096
python3 -c '
import base64, os
for i in range(6000):
    print(base64.b64encode(os.urandom(32)).decode(), "10.100.%d.%d/32" % (i // 256, i % 256))
' >>peers
cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[tunnel]
listen = 10.200.0.1:51820
private_key_file = $RG_TMP/srv.key
peers_file = $RG_TMP/peers
INI
ip netns exec $S "$RG" -c rg.ini 2>rg.log &
RG_PIDS+=("$!")
srv() { ip netns exec $S "$@"; }
cli() { ip netns exec $C "$@"; }
wait_for 10 srv curl -sf http://127.0.0.1:8082/health || { cat rg.log >&2; fail "ringgate did not start"; }
metric() { srv curl -sf http://127.0.0.1:8082/metrics | sum_metrics "$1"; }
grep -q 'tunnel: 6001 peers configured, room for 16384 sessions per worker' rg.log ||
	{ cat rg.log >&2; fail "the workers were not sized for 6,001 peers"; }
sized() { [[ $(metric '^ringgate_tunnel_session_capacity') -eq 32768 ]]; } # 2 workers
wait_for 5 sized || fail "session capacity $(metric '^ringgate_tunnel_session_capacity'), want 2 x 16384"

# wireguard-go keeps its control socket under /var/run/wireguard, shared by
# every namespace: the interface name is unique to this run.
cli wireguard-go -f $WG >wggo.log 2>&1 &
RG_PIDS+=("$!")
wait_for 10 cli ip link show $WG || { cat wggo.log >&2; fail "wireguard-go did not create $WG"; }
cli wg set $WG private-key "$RG_TMP/cli.key" peer "$srvpub" endpoint 10.200.0.1:51820 allowed-ips 10.8.0.0/24 ||
	fail "wg set"
cli ip addr add 10.8.0.2/24 dev $WG && cli ip link set $WG up

handshake_at() { cli wg show $WG latest-handshakes | awk '{ print $2 + 0 }'; }
handshook() { [[ $(handshake_at) -gt 0 ]]; }
cli ping -c 3 -i 0.3 -W 1 10.8.0.1 >/dev/null 2>&1 # no reply: no TUN on the server
wait_for 10 handshook || { cat wggo.log rg.log >&2; fail "wireguard-go never completed a handshake with ringgate"; }
data_in() { [[ $(metric 'ringgate_tunnel_rx_total\{.*verdict="data"') -ge 1 ]]; }
wait_for 5 data_in || { srv curl -s http://127.0.0.1:8082/metrics | grep tunnel_rx >&2; fail "no data packet authenticated"; }
[[ $(metric 'ringgate_drops_total\{.*reason="no_tun"') -ge 1 ]] || fail "decrypted packets not counted as no_tun"
note "authorized client: handshake at $(handshake_at), $(metric 'ringgate_tunnel_rx_total\{.*verdict="data"') data packets authenticated"
# GET /peers lists every configured peer, the connected one with its session
srv curl -sf http://127.0.0.1:8082/peers >peers.json || fail "GET /peers"
python3 - "$clipub" <<'PY' || fail "GET /peers"
import json, sys
ps = json.load(open("peers.json"))
ps = ps["peers"] if isinstance(ps, dict) else ps
assert len(ps) == 6001, f"{len(ps)} peers listed, want 6001"
me = [p for p in ps if p["public_key"] == sys.argv[1]]
assert me and me[0]["last_handshake"] > 0, "the connected peer has no handshake in /peers"
PY

# An unknown key: no tunnel.
wg genkey >other.key 2>/dev/null
otherpub=$(wg pubkey <other.key)
cli wg set $WG private-key "$RG_TMP/other.key"
before=$(metric 'ringgate_tunnel_rx_total\{.*verdict="drop_unauthorized"')
# a new private key changes our identity: wireguard-go starts over
cli ping -c 3 -i 0.3 -W 1 10.8.0.1 >/dev/null 2>&1
unauth() { [[ $(metric 'ringgate_tunnel_rx_total\{.*verdict="drop_unauthorized"') -gt $before ]]; }
wait_for 10 unauth || fail "the unknown key was not refused as unauthorized"

# Added to peers_file: the file change reloads, the key is admitted.
hs_before=$(metric 'ringgate_tunnel_rx_total\{.*verdict="handshake"')
echo "$otherpub 10.8.0.2/32" >peers.new && mv peers.new peers
admitted() {
	cli ping -c 1 -W 1 10.8.0.1 >/dev/null 2>&1
	[[ $(metric 'ringgate_tunnel_rx_total\{.*verdict="handshake"') -gt $hs_before ]]
}
wait_for 15 admitted || { cat rg.log >&2; fail "the key added to peers_file was not admitted"; }

# Removed: the session is dropped at once and its packets are refused.
: >peers.new && mv peers.new peers
nosess_before=$(metric 'ringgate_tunnel_rx_total\{.*verdict="drop_(no_session|unauthorized)"')
cut_off() {
	cli ping -c 1 -W 1 10.8.0.1 >/dev/null 2>&1
	[[ $(metric 'ringgate_tunnel_rx_total\{.*verdict="drop_(no_session|unauthorized)"') -gt $nosess_before ]]
}
wait_for 15 cut_off || fail "the removed key still has a tunnel"
rg_clean_log rg.log
echo "wggo: ok"
