#!/usr/bin/env bash
# bench/tunnel.sh RINGGATE SECONDS OUT.jsonl: the tunnel suite of bench/run.
# Two network namespaces joined by a veth pair; TCP throughput with iperf3
# through three tunnels, one after the other on the same topology:
#   wggo-wggo   wireguard-go <-> wireguard-go (the reference)
#   wggo-rg     wireguard-go client -> ringgate server
#   rg-rg       ringgate (initiator, [peer] endpoint) <-> ringgate server
# For each: Gbit/s received and the CPU seconds of each tunnel process per
# GB carried (utime + stime from /proc/PID/stat over the transfer). Every
# process started here is ended by its id; the namespaces are deleted.
set -uo pipefail
RG=$(realpath "$1") SECS=${2:-5} OUT=$3
tmp=$(mktemp -d)
pids=() nss=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in "${nss[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
A=rgbA$$ B=rgbB$$
ip netns add $A && nss+=($A) && ip netns add $B && nss+=($B) || { echo "no network namespaces" >&2; exit 1; }
ip link add va$$ netns $A type veth peer name vb$$ netns $B
ip -n $A addr add 10.199.0.1/24 dev va$$ && ip -n $A link set va$$ up && ip -n $A link set lo up
ip -n $B addr add 10.199.0.2/24 dev vb$$ && ip -n $B link set vb$$ up && ip -n $B link set lo up
a() { ip netns exec $A "$@"; }
b() { ip netns exec $B "$@"; }
cd "$tmp" || exit 1
umask 077
for k in a b; do wg genkey >$k.key; wg pubkey <$k.key >$k.pub; done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
wait_up() { # ns iface
	for _ in $(seq 100); do ip netns exec "$1" ip link show "$2" >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}

wggo() { # ns iface key inner peerpub [endpoint]
	local ns=$1 ifc=$2 key=$3 inner=$4 peer=$5 ep=${6:-}
	ip netns exec "$ns" wireguard-go -f "$ifc" >"wg-$ifc.log" 2>&1 &
	pids+=($!)
	WGPID=$!
	wait_up "$ns" "$ifc" || return 1
	ip netns exec "$ns" wg set "$ifc" private-key "$key" listen-port 51820 peer "$peer" \
		allowed-ips 10.198.0.0/24 ${ep:+endpoint $ep} || return 1
	ip netns exec "$ns" ip addr add "$inner/24" dev "$ifc"
	ip netns exec "$ns" ip link set "$ifc" mtu 1420 up
}

ringgate() { # ns name tun key inner peerpub peerip [endpoint]
	local ns=$1 name=$2 tun=$3 key=$4 inner=$5 peer=$6 peerip=$7 ep=${8:-}
	cat >"$name.ini" <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[tunnel]
listen = 0.0.0.0:51820
private_key_file = $tmp/$key
tun = $tun
address = $inner/24
mtu = 1420

[peer other]
public_key = $peer
allowed_ips = $peerip/32
${ep:+endpoint = $ep}
${ep:+persistent_keepalive = 25}
INI
	ip netns exec "$ns" "$RG" -c "$name.ini" 2>"$name.log" &
	pids+=($!)
	RGPID=$!
	for _ in $(seq 100); do
		ip netns exec "$ns" curl -sf http://127.0.0.1:8082/health >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	cat "$name.log" >&2
	return 1
}

measure() { # case client_pid server_pid
	local name=$1 cpid=$2 spid=$3
	b iperf3 -s -1 -B 10.198.0.2 >/dev/null 2>&1 &
	local ipid=$!
	pids+=($ipid)
	sleep 0.3
	# the first packets start the handshake
	a ping -c 1 -W 2 10.198.0.2 >/dev/null 2>&1 || a ping -c 2 -W 2 10.198.0.2 >/dev/null 2>&1
	local c0 s0 c1 s1
	c0=$(cpu_ticks "$cpid") s0=$(cpu_ticks "$spid")
	if ! a timeout $((SECS + 10)) iperf3 -c 10.198.0.2 -t "$SECS" -J >"$name.json" 2>/dev/null; then
		echo "{\"case\":\"$name\",\"error\":\"iperf3 failed\"}" >>"$OUT"
		kill $ipid 2>/dev/null
		return 0
	fi
	c1=$(cpu_ticks "$cpid") s1=$(cpu_ticks "$spid")
	python3 - "$name" "$name.json" "$((c1 - c0))" "$((s1 - s0))" "$(getconf CLK_TCK)" >>"$OUT" <<'PY'
import json, sys
name, path, ct, st, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(path))["end"]
rx = r["sum_received"]["bytes"]
secs = r["sum_received"]["seconds"]
gb = rx / 1e9
print(json.dumps({"case": name, "bytes": rx, "seconds": secs, "gbit_s": rx * 8 / secs / 1e9,
                  "client_cpu_s_per_gb": ct / hz / gb, "server_cpu_s_per_gb": st / hz / gb,
                  "retransmits": r["sum_sent"].get("retransmits")}))
PY
	wait $ipid 2>/dev/null
}

stop() { for p in "$@"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

# 1. wireguard-go <-> wireguard-go
if wggo $B wgb$$ b.key 10.198.0.2 "$(cat a.pub)" && SP=$WGPID &&
	wggo $A wga$$ a.key 10.198.0.1 "$(cat b.pub)" 10.199.0.2:51820 && CP=$WGPID; then
	measure wggo-wggo $CP $SP
else
	echo "{\"case\":\"wggo-wggo\",\"error\":\"setup failed\"}" >>"$OUT"
fi
stop ${SP:-} ${CP:-}
sleep 0.5

# 2. wireguard-go client -> ringgate server
unset SP CP
if ringgate $B srv rgt$$ b.key 10.198.0.2 "$(cat a.pub)" 10.198.0.1 && SP=$RGPID &&
	wggo $A wga$$ a.key 10.198.0.1 "$(cat b.pub)" 10.199.0.2:51820 && CP=$WGPID; then
	measure wggo-rg $CP $SP
else
	echo "{\"case\":\"wggo-rg\",\"error\":\"setup failed\"}" >>"$OUT"
fi
stop ${CP:-} ${SP:-}
sleep 0.5

# 3. ringgate <-> ringgate
unset SP CP
if ringgate $B srv rgt$$ b.key 10.198.0.2 "$(cat a.pub)" 10.198.0.1 && SP=$RGPID &&
	ringgate $A cli rgu$$ a.key 10.198.0.1 "$(cat b.pub)" 10.198.0.2 10.199.0.2:51820 && CP=$RGPID; then
	measure rg-rg $CP $SP
else
	echo "{\"case\":\"rg-rg\",\"error\":\"setup failed\"}" >>"$OUT"
fi
stop ${CP:-} ${SP:-}
exit 0
