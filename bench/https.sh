#!/usr/bin/env bash
# bench/https.sh SECS REPEATS OUT: the cases of `bench/run https`, run by it
# inside a private network namespace (unshare -n) that holds only loopback,
# so fixed ports never meet anyone else's. Writes one JSON object a line to
# OUT.
#
# Every server is a TLS-terminating reverse proxy (HTTP/2 and HTTP/1.1 over
# TLS in front, HTTP/1.1 with keep-alive behind) to the same nginx backend
# serving the same files; each runs one worker pinned to CPU 1 while the
# clients (h2load, curl, the idle-connection holder) and the backend run on
# CPU 0:
#   ringgate     release build, [https] + [vhost] + [backend] + [route]
#   nginx        Debian's nginx: `listen ssl http2`, proxy_pass with an
#                upstream keep-alive pool
#   haproxy      Debian's HAProxy 2.6: `mode http`, `bind ssl alpn h2,http/1.1`,
#                http-reuse always
#   caddy        Debian's Caddy (Go): reverse_proxy
# Cases, rounds interleaved over the servers:
#   h2-small / h1-small  h2load, 4 connections x 16 streams (HTTP/1.1: 4 x 1),
#                        100-byte responses for SECS: requests/s, server CPU
#                        per 1,000 requests, p50/p99 from h2load's log
#   h2-bulk / h1-bulk    one 100 MB download with curl: MB/s, CPU s/GB
#   handshake            h2load, 400 connections of one request each, no
#                        resumption: new TLS handshakes/s, server CPU per
#                        handshake
#   idle                 (once, each server restarted) 10,000 idle TLS
#                        connections (9,000 by default: see idle_n) held open: RSS per connection
set -euo pipefail
cd "$(dirname "$0")/.."
secs=$1 reps=$2 out=$3
idle_n=${HTTPS_IDLE_N:-9000} # 10,000 asked; the hard descriptor limit here is 20,000 and HAProxy takes two per connection
B=build/bench
RG=$PWD/$B/control/ringgate
BIG=104857600

ip link set lo up
# 10,000 idle connections need as many descriptors in the server and in
# the client holding them: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < idle_n + 1024)); then
	idle_n=$(($(ulimit -n) - 1024))
	echo "https: the descriptor limit allows only $idle_n idle connections" >&2
fi
. "$(dirname "$0")/lib.sh"
bench_begin https
bench_www "$BIG"
cat "$T/cert.pem" "$T/key.pem" >"$T/combined.pem"

cat >"$T/backend.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $T/backend.pid; error_log stderr error;
events { worker_connections 16384; }
http {
	access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000; keepalive_timeout 120s;
	client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;
	default_type application/octet-stream;
	server { listen 127.0.0.1:8090; root $T/www; }
}
EOF
taskset -c 0 nginx -p "$T" -c "$T/backend.conf" -e stderr 2>"$T/backend.log" &
BACKEND=$!
PIDS+=("$BACKEND")


# The servers' processes: nginx and HAProxy run one process each here
# (master_process off; nbthread 1), Caddy one process; CPU is read from it.
declare -A SRV
declare -A port=([ringgate]=8443 [nginx]=8444 [haproxy]=8445 [caddy]=8446)

start_server() { # NAME
	local name=$1 p=${port[$1]}
	case $name in
	ringgate)
		cat >"$T/ringgate.ini" <<EOF
[appliance]
workers = 1
cpus = 1
admin = 127.0.0.1:8082
log_level = warn

[https]
listen = 127.0.0.1:$p
max_connections = $((idle_n + 1024))

[quic]
listen = 127.0.0.1:$p
retry = off

$(bench_rg_site 127.0.0.1:8090)
EOF
		bench_rg_start
		;;
	nginx)
		cat >"$T/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $T/nginx.pid; error_log stderr error;
worker_rlimit_nofile 65536;
events { worker_connections 32768; }
http {
	access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
	client_body_temp_path $T/tmp; proxy_temp_path $T/tmp; fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp; scgi_temp_path $T/tmp;
	upstream backend { server 127.0.0.1:8090; keepalive 64; }
	server {
		listen 127.0.0.1:$p ssl http2;
		ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
		ssl_session_cache off; ssl_session_tickets off;
		http2_max_concurrent_streams 128;
		location / {
			proxy_pass http://backend; proxy_http_version 1.1;
			proxy_set_header Connection ""; proxy_max_temp_file_size 0;
		}
	}
}
EOF
		taskset -c 1 nginx -p "$T" -c "$T/nginx.conf" -e stderr 2>"$T/nginx.log" &
		;;
	haproxy)
		cat >"$T/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn 9900
	tune.ssl.default-dh-param 2048
defaults
	mode http
	timeout connect 5s
	timeout client 120s
	timeout server 120s
	timeout http-keep-alive 120s
frontend fe
	bind 127.0.0.1:$p ssl crt $T/combined.pem alpn h2,http/1.1 no-tls-tickets
	default_backend be
backend be
	http-reuse always
	server s1 127.0.0.1:8090
EOF
		taskset -c 1 haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
		;;
	caddy)
		cat >"$T/caddy.caddy" <<EOF
{
	admin off
	auto_https off
	log {
		level ERROR
	}
	servers {
		protocols h1 h2
	}
}
https://localhost:$p {
	tls $T/cert.pem $T/key.pem
	reverse_proxy 127.0.0.1:8090
}
EOF
		XDG_DATA_HOME=$T/caddy XDG_CONFIG_HOME=$T/caddy HOME=$T/caddy GOMAXPROCS=1 \
			taskset -c 1 caddy run --config "$T/caddy.caddy" --adapter caddyfile >"$T/caddy.log" 2>&1 &
		;;
	esac
	SRV[$name]=$!
	PIDS+=("${SRV[$name]}")
	local i
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

stop_server() {
	kill "${SRV[$1]}" 2>/dev/null || true
	wait "${SRV[$1]}" 2>/dev/null || true
}

# emit SERVER CASE REP JSON CPU_TICKS BACKEND_TICKS
emit() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[4]); tck = float(sys.argv[7])
d.update(server=sys.argv[1], case=sys.argv[2], rep=int(sys.argv[3]),
         server_cpu_s=int(sys.argv[5]) / tck, backend_cpu_s=int(sys.argv[6]) / tck)
print(json.dumps(d))' "$@" >>"$out"
}

# h2load's summary and its per-request log -> JSON (requests, ok, failed,
# seconds, p50/p99 in ms)
h2json() { # SUMMARY LOG
	python3 - "$1" "$2" <<'PY'
import json, re, sys
s = open(sys.argv[1]).read()
d = {"ok": 0, "failed": 0, "errored": 0, "seconds": 0.0}
m = re.search(r"finished in ([\d.]+)(m?s)", s)
if m:
    d["seconds"] = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", s)
if m:
    d.update(requests=int(m.group(3)), ok=int(m.group(4)), failed=int(m.group(5)), errored=int(m.group(6)))
m = re.search(r"status codes: (\d+) 2xx", s)
d["status_2xx"] = int(m.group(1)) if m else 0
lat = []
try:
    for line in open(sys.argv[2]):
        f = line.split()
        if len(f) >= 3 and f[1].isdigit() and int(f[1]) // 100 == 2:
            lat.append(int(f[2]) / 1000.0)  # microseconds -> ms
except FileNotFoundError:
    pass
lat.sort()
if lat:
    d["p50_ms"] = lat[len(lat) // 2]
    d["p99_ms"] = lat[min(len(lat) - 1, len(lat) * 99 // 100)]
if d["seconds"]:
    d["rps"] = d["ok"] / d["seconds"]
print(json.dumps(d))
PY
}

measure_h2load() { # NAME CASE REP H2LOAD-ARGS...
	local name=$1 kase=$2 rep=$3 c0 b0 c1 b1 res
	shift 3
	c0=$(cpu_ticks "${SRV[$name]}") b0=$(cpu_ticks "$BACKEND")
	rm -f "$T/h2load.log"
	timeout $((secs + 60)) taskset -c 0 h2load --log-file="$T/h2load.log" "$@" >"$T/h2load.out" 2>&1 || true
	c1=$(cpu_ticks "${SRV[$name]}") b1=$(cpu_ticks "$BACKEND")
	res=$(h2json "$T/h2load.out" "$T/h2load.log")
	emit "$name" "$kase" "$rep" "$res" $((c1 - c0)) $((b1 - b0)) "$tck"
}

measure_bulk() { # NAME CASE REP CURL-ARGS...
	local name=$1 kase=$2 rep=$3 c0 b0 c1 b1 res
	shift 3
	c0=$(cpu_ticks "${SRV[$name]}") b0=$(cpu_ticks "$BACKEND")
	res=$(timeout 60 taskset -c 0 curl -s --cacert "$T/cert.pem" -o /dev/null \
		-w '{"bytes":%{size_download},"seconds":%{time_total},"http":"%{http_version}","status":%{http_code}}' "$@" ||
		echo '{"bytes":0,"seconds":0,"status":0}')
	c1=$(cpu_ticks "${SRV[$name]}") b1=$(cpu_ticks "$BACKEND")
	emit "$name" "$kase" "$rep" "$res" $((c1 - c0)) $((b1 - b0)) "$tck"
}

# Holds N idle TLS connections (each completes its handshake and one
# request so that the server's HTTP state exists), reports when all are up,
# then waits for a signal file.
cat >"$T/idle.py" <<'PY'
import selectors, socket, ssl, sys, time
host, port, n, ca, ready, done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
sel = selectors.DefaultSelector()
live, ok, failed, t0 = [], 0, 0, time.time()
req = b"GET /bytes/100 HTTP/1.1\r\nHost: localhost\r\n\r\n"
pending = 0
def start():
    global pending
    s = socket.socket(); s.setblocking(False)
    s.connect_ex((host, port))
    t = ctx.wrap_socket(s, server_hostname="localhost", do_handshake_on_connect=False)
    sel.register(t, selectors.EVENT_WRITE, ["hs", b""])
    pending += 1
made = 0
while (made < n or pending) and time.time() - t0 < 120:
    while made < n and pending < 256:
        start(); made += 1
    for key, _ in sel.select(1):
        t, st = key.fileobj, key.data
        try:
            if st[0] == "hs":
                t.do_handshake(); t.send(req); st[0] = "rd"
                sel.modify(t, selectors.EVENT_READ, st)
            else:
                d = t.recv(65536)
                if not d:
                    raise OSError("closed")
                st[1] += d
                head, sep, body = st[1].partition(b"\r\n\r\n")
                if sep and len(body) >= 100:  # /bytes/100: the whole response is in
                    sel.unregister(t); live.append(t); pending -= 1; ok += 1
        except ssl.SSLWantReadError:
            sel.modify(t, selectors.EVENT_READ, st)
        except ssl.SSLWantWriteError:
            sel.modify(t, selectors.EVENT_WRITE, st)
        except OSError:
            sel.unregister(t); t.close(); pending -= 1; failed += 1
open(ready, "w").write(f"{ok} {failed} {time.time() - t0:.1f}\n")
while not __import__("os").path.exists(done) and time.time() - t0 < 300:
    time.sleep(0.2)
PY

measure_idle() { # NAME
	local name=$1 r0 r1 i
	r0=$(rss_kb "${SRV[$name]}")
	rm -f "$T/idle.ready" "$T/idle.done"
	taskset -c 0 python3 "$T/idle.py" 127.0.0.1 "${port[$name]}" "$idle_n" "$T/cert.pem" \
		"$T/idle.ready" "$T/idle.done" 2>"$T/idle.err" &
	local ip=$!
	PIDS+=("$ip")
	for ((i = 0; i < 1300; i++)); do
		[[ -e $T/idle.ready ]] && break
		kill -0 "$ip" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	r1=$(rss_kb "${SRV[$name]}")
	read -r ok failed took <"$T/idle.ready" 2>/dev/null || { ok=0 failed=$idle_n took=0; }
	touch "$T/idle.done"
	wait "$ip" 2>/dev/null || true
	emit "$name" idle 1 "{\"idle_n\":$idle_n,\"ok\":$ok,\"failed\":$failed,\"setup_s\":$took,\"rss_before_kb\":$r0,\"rss_idle_kb\":$r1}" 0 0 "$tck"
}

servers=(ringgate nginx)
command -v haproxy >/dev/null && servers+=(haproxy) || log "no haproxy: skipped"
command -v caddy >/dev/null && servers+=(caddy) || log "no caddy: skipped"
# HTTPS_SERVERS="ringgate nginx": only those (quick checks while tuning)
[[ -n ${HTTPS_SERVERS:-} ]] && read -ra servers <<<"$HTTPS_SERVERS"
for name in "${servers[@]}"; do start_server "$name"; done

for ((r = 1; r <= reps; r++)); do
	for name in "${servers[@]}"; do
		u="https://localhost:${port[$name]}"
		log "round $r/$reps: $name"
		measure_bulk "$name" h2-bulk "$r" --http2 "$u/bytes/$BIG"
		measure_bulk "$name" h1-bulk "$r" --http1.1 "$u/bytes/$BIG"
		measure_h2load "$name" h2-small "$r" -c 4 -m 16 -D "$secs" "$u/bytes/100"
		measure_h2load "$name" h1-small "$r" --h1 -c 4 -m 1 -D "$secs" "$u/bytes/100"
		measure_h2load "$name" handshake "$r" -c 400 -n 400 -m 1 "$u/bytes/100"
	done
done

for name in "${servers[@]}"; do
	log "idle: $name, $idle_n connections"
	stop_server "$name"
	start_server "$name"
	measure_idle "$name"
	stop_server "$name"
done
