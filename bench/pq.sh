#!/usr/bin/env bash
# bench/pq.sh SECS REPEATS OUT: the cases of `bench/run pq` (issue 20 §5),
# run by it inside the Debian 13 root (tools/debian13.sh) in a private
# network namespace (unshare -n): loopback, and a veth pair to a second
# private namespace holding the backend. Writes one JSON object a line to
# OUT.
#
# Full TLS 1.3 handshakes, one tiny request each (GET /bytes/100, proxied
# to a backend), against two servers built on OpenSSL 3.5, each one
# process pinned to CPU 1, both offering "X25519MLKEM768, X25519":
#   ringgate  build/pqbench (-Dtls=openssl, release), one worker, [https] and
#             [quic] on 127.0.0.1:8443
#   nginx     Debian 13's nginx 1.26 (master_process off, one process),
#             `listen ssl` + http2 and `listen quic` + http3 on 8444
# Cases, rounds interleaved (protocol, then group, then server):
#   tcp   h2load 1.64 (HTTP/2 over TLS 1.3) --groups GROUP, repeated runs of
#         -c 100 -n 100 (each connection one request, so one handshake)
#         until SECS have passed
#   quic  bench/h3load (OpenSSL build) --groups GROUP -c 16 -r 1 -D SECS: a
#         new connection per request; it reports Initial datagrams sent and
#         bytes each way before each handshake completed
# for GROUP in X25519MLKEM768 and X25519. Per case: handshakes/s, the
# server's utime+stime (/proc/PID/stat, all threads) per handshake, and lo's
# received bytes (/proc/net/dev of this namespace: every packet between
# client and server, both directions, IP header up) per handshake. The
# backend (nginx, CPU 0) lives in a second namespace behind a veth pair, so
# the proxy hop does not show on lo. ringgate's /metrics tells which group
# its handshakes used (ringgate_tls_handshakes_total{proto,group}); h3load
# and, for classical groups only, h2load report the group the client got,
# and openssl s_client checks each server and group once before the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=$1 reps=$2 out=$3
B=${PQ_BUILD:-build/pqbench}
RG=$PWD/$B/control/ringgate
H3=$PWD/$B/bench/h3load
GROUPS_=(X25519MLKEM768 X25519)
# PQ_SERVERS="ringgate", PQ_PROTOS="quic": only those (quick checks);
# PQ_QUIC_CONNS: h3load's connections at once (default 16)
read -ra servers <<<"${PQ_SERVERS:-ringgate nginx}"
read -ra protos <<<"${PQ_PROTOS:-tcp quic}"
quic_conns=${PQ_QUIC_CONNS:-16}
declare -A port=([ringgate]=8443 [nginx]=8444)

ip link set lo up
. "$(dirname "$0")/lib.sh"
bench_begin pq
bench_www 100
python3 -c 'import json, sys; print(json.dumps({"meta": dict(zip(["ringgate", "nginx", "openssl", "h2load", "h3load_tls"], sys.argv[1:]))}))' \
	"$("$RG" --version | tr '\n' ' ')" "$(nginx -v 2>&1)" "$(openssl version)" "$(h2load --version | head -1)" \
	"$("$H3" --json -t 1 https://127.0.0.1:9/ 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["tls"])' || echo '?')" >>"$out"

# The backend in its own namespace, reached over a veth pair (10.77.0.2).
unshare -n -- sleep 100000 &
BNS=$!
PIDS+=("$BNS")
sleep 0.2
ip link add pqv0 type veth peer name pqv1
ip link set pqv1 netns "/proc/$BNS/ns/net"
ip addr add 10.77.0.1/24 dev pqv0
ip link set pqv0 up
nsenter --net="/proc/$BNS/ns/net" sh -c 'ip link set lo up && ip addr add 10.77.0.2/24 dev pqv1 && ip link set pqv1 up'
cat >"$T/backend.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $T/backend.pid; error_log stderr error;
events { worker_connections 16384; }
http {
	access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
	client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;
	default_type application/octet-stream;
	server { listen 10.77.0.2:8090; root $T/www; }
}
EOF
nsenter --net="/proc/$BNS/ns/net" taskset -c 0 nginx -p "$T" -c "$T/backend.conf" -e stderr 2>"$T/backend.log" &
PIDS+=($!)

declare -A SRV
start_server() { # NAME
	local name=$1 p=${port[$1]} i
	case $name in
	ringgate)
		cat >"$T/ringgate.ini" <<EOF
[appliance]
workers = 1
cpus = 1
admin = 127.0.0.1:8082
log_level = warn

[tls]
groups = X25519MLKEM768, X25519

[https]
listen = 127.0.0.1:$p

[quic]
listen = 127.0.0.1:$p
retry = off

$(bench_rg_site 10.77.0.2:8090)
EOF
		bench_rg_start
		;;
	nginx)
		cat >"$T/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $T/nginx.pid; error_log stderr error;
events { worker_connections 16384; }
http {
	access_log off; keepalive_timeout 120s;
	client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;
	upstream backend { server 10.77.0.2:8090; keepalive 64; }
	server {
		listen 127.0.0.1:$p ssl;
		listen 127.0.0.1:$p quic;
		http2 on;
		http3 on;
		quic_retry off;
		ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
		ssl_protocols TLSv1.3;
		ssl_ecdh_curve X25519MLKEM768:X25519;
		# tickets on (nginx's default) as ringgate, which always issues
		# them: both do the same work per handshake (counts in the check)
		ssl_session_tickets on;
		location / {
			proxy_pass http://backend; proxy_http_version 1.1;
			proxy_set_header Connection ""; proxy_max_temp_file_size 0;
		}
	}
}
EOF
		taskset -c 1 nginx -p "$T" -c "$T/nginx.conf" -e stderr 2>"$T/nginx.log" &
		;;
	esac
	SRV[$name]=$!
	PIDS+=("${SRV[$name]}")
	for ((i = 0; i < 100; i++)); do
		kill -0 "${SRV[$name]}" 2>/dev/null || break
		if curl -sf --cacert "$T/cert.pem" -o /dev/null "https://localhost:$p/proxycheck.txt"; then
			return 0
		fi
		sleep 0.1
	done
	tail -20 "$T/$name.log" >&2
	log "$name did not start or does not proxy to the backend"
	exit 1
}

lo_rx() { awk '$1 == "lo:" { print $2 }' /proc/net/dev; }
# ringgate's handshakes by proto and group: {"tcp/X25519": n, ...}
rg_groups() {
	curl -sf http://127.0.0.1:8082/metrics | python3 -c '
import json, re, sys
d = {}
for l in sys.stdin:
    m = re.match(r"ringgate_tls_handshakes_total\{(.*)\} (\d+)", l)
    if m:
        lab = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(1)))
        k = lab.get("proto", "?") + "/" + lab.get("group", "?")
        d[k] = d.get(k, 0) + int(m.group(2))
print(json.dumps(d))'
}

# emit SERVER PROTO GROUP REP CLIENT_JSON CPU_TICKS LO_BYTES WALL_S MET0 MET1
emit() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[5]); tck = float(sys.argv[9])
m0, m1 = json.loads(sys.argv[10]), json.loads(sys.argv[11])
d.update(server=sys.argv[1], proto=sys.argv[2], group=sys.argv[3], rep=int(sys.argv[4]),
         server_cpu_s=int(sys.argv[6]) / tck, lo_rx_bytes=int(sys.argv[7]), wall_s=float(sys.argv[8]),
         server_groups={k: m1[k] - m0.get(k, 0) for k in m1 if m1[k] - m0.get(k, 0)})
print(json.dumps(d))' "$@" "$tck" "$met0" "$met1" >>"$out"
}

# h2load's summaries (one per run) -> one JSON object: runs, ok (2xx),
# failed, seconds (sum of "finished in"), the groups it reported
h2json() { # OUT
	python3 - "$1" <<'PY'
import json, re, sys
s = open(sys.argv[1]).read()
d = {"runs": 0, "requests": 0, "ok": 0, "failed": 0, "errored": 0, "seconds": 0.0}
for m in re.finditer(r"finished in ([\d.]+)(m?s)", s):
    d["runs"] += 1
    d["seconds"] += float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
for m in re.finditer(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", s):
    d["requests"] += int(m.group(3)); d["failed"] += int(m.group(5)); d["errored"] += int(m.group(6))
for m in re.finditer(r"status codes: (\d+) 2xx", s):
    d["ok"] += int(m.group(1))
d["client_groups"] = sorted(set(re.findall(r"Server Temp Key: (\S+)", s)))
d["handshakes"] = d["ok"]
m = re.findall(r"(?m)^(?:Application protocol|TLS Protocol): (\S+)", s)
d["protocols"] = sorted(set(m))
print(json.dumps(d))
PY
}

measure() { # NAME PROTO GROUP REP
	local name=$1 proto=$2 group=$3 rep=$4 c0 c1 l0 l1 t0 t1 res url
	url="https://localhost:${port[$name]}/bytes/100"
	met0='{}' met1='{}'
	[[ $name == ringgate ]] && met0=$(rg_groups)
	c0=$(cpu_ticks "${SRV[$name]}") l0=$(lo_rx) t0=$(date +%s.%N)
	if [[ $proto == tcp ]]; then
		: >"$T/h2load.out"
		local end=$((SECONDS + secs))
		while ((SECONDS < end)); do
			timeout 30 taskset -c 0 h2load --groups "$group" -c 100 -n 100 -m 1 "$url" >>"$T/h2load.out" 2>&1 || true
		done
		res=$(h2json "$T/h2load.out")
	else
		res=$(timeout $((secs + 40)) taskset -c 0 "$H3" --json --cacert "$T/cert.pem" -a 127.0.0.1 --groups "$group" \
			-t $((secs + 30)) -c "$quic_conns" -r 1 -D "$secs" "$url" 2>"$T/h3load.err") || true
		[[ -n $res ]] || res="{\"ok\":0,\"failed\":1,\"error\":\"h3load printed nothing: $(head -c 200 "$T/h3load.err" | tr '"\n' "' ")\"}"
	fi
	c1=$(cpu_ticks "${SRV[$name]}") l1=$(lo_rx) t1=$(date +%s.%N)
	[[ $name == ringgate ]] && met1=$(rg_groups)
	emit "$name" "$proto" "$group" "$rep" "$res" $((c1 - c0)) $((l1 - l0)) "$(awk "BEGIN { print $t1 - $t0 }")"
}

for name in "${servers[@]}"; do start_server "$name"; done
# Before the rounds, per server and group, one handshake by clients that
# name the group they got: openssl s_client over TCP (h2load prints no
# "Server Temp Key" for a hybrid; offering one group only, a completed
# handshake can only be in it) and h3load over QUIC. Logged and kept in
# the output; a failure here is measured in the rounds too, not skipped.
for name in "${servers[@]}"; do
	for group in "${GROUPS_[@]}"; do
		# stdin open 0.5 s so that s_client reads the tickets sent after
		# the handshake, and counts them
		sc=$(timeout 10 openssl s_client -connect "127.0.0.1:${port[$name]}" -servername localhost \
			-CAfile "$T/cert.pem" -groups "$group" < <(sleep 0.5) 2>/dev/null)
		tcp_g=$(sed -n -e 's/^Negotiated TLS1.3 group: //p' -e 's/^Peer Temp Key: \([^,]*\),.*/\1/p' <<<"$sc" | head -1)
		tickets=$(grep -c 'New Session Ticket arrived' <<<"$sc" || true)
		[[ -n $tcp_g ]] && tcp_g="$tcp_g, $tickets session tickets"
		quic_r=$(taskset -c 0 "$H3" --json --cacert "$T/cert.pem" -a 127.0.0.1 --groups "$group" -t 10 -n 1 \
			"https://localhost:${port[$name]}/bytes/100" 2>&1) || true
		log "$name $group: s_client over TCP negotiated '${tcp_g:-nothing}'; h3load over QUIC: $quic_r"
		python3 -c 'import json, sys
q = sys.argv[5]
try:
    q = json.loads(q)
except ValueError:
    pass
print(json.dumps({"check": {"server": sys.argv[1], "group": sys.argv[2], "tcp_s_client": sys.argv[3], "quic_h3load": q}}))' \
			"$name" "$group" "$tcp_g" x "$quic_r" >>"$out"
	done
done

# Rounds: every case once per round, the two servers back to back for each
# protocol and group, so that the ratios the report takes within a round
# (ringgate over nginx, hybrid over X25519) compare cases measured seconds
# apart: the load from elsewhere on this shared box comes in bursts.
for ((r = 1; r <= reps; r++)); do
	for proto in "${protos[@]}"; do
		for group in "${GROUPS_[@]}"; do
			for name in "${servers[@]}"; do
				log "round $r/$reps: $name $proto $group"
				measure "$name" "$proto" "$group" "$r"
			done
		done
	done
done
for name in "${servers[@]}"; do
	kill "${SRV[$name]}" 2>/dev/null || true
	wait "${SRV[$name]}" 2>/dev/null || true
done
log "nginx's log: $(tail -5 "$T/nginx.log" 2>/dev/null | tr '\n' ' ')"
