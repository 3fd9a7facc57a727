#!/usr/bin/env bash
# HTTPS over TCP end to end (issue 9): Debian's curl (OpenSSL + nghttp2)
# against ringgate's [https] listener, HTTP/1.1 and HTTP/2, certificates
# verified with --cacert, to real HTTP/1.1 backends on loopback (python's
# http.server for files, tests/proxy/backend.py for echo and headers).
# usage: https.sh RINGGATE BACKEND_PY [uring|epoll]
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") BACKEND=$(realpath "$2") RB=${3:-auto}
. "$(dirname "$0")/../quic/common.sh"
cd "$RG_TMP" || fail "no temp dir"
make_cert "$RG_TMP" localhost
T0=$(date +%s%N)
lap() { note "$* ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"; T0=$(date +%s%N); }

mkdir -p www/f
: >www/f/zero
head -c 1024 /dev/urandom >www/f/1k
head -c $((10 << 20)) /dev/urandom >www/f/10m
head -c $((100 << 20)) /dev/urandom >www/f/100m
python3 -m http.server 9003 --bind 127.0.0.1 --directory www >/dev/null 2>&1 &
RG_PIDS+=($!)
export CONNLOG=$RG_TMP/conn.log
HDRLOG=$RG_TMP/headers.log python3 "$BACKEND" 9001 A &
RG_PIDS+=($!)

write_config() { # alt_svc
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433

[https]
listen = 127.0.0.1:4433
alt_svc = $1
header_timeout = 2s

[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key

[backend files]
server = 127.0.0.1:9003

[backend a]
server = 127.0.0.1:9001

[route files]
host = localhost
path_prefix = /f
backend = files

[route api]
host = localhost
path_prefix = /
backend = a
INI
}
wait_for 10 curl -sf http://127.0.0.1:9001/x -o /dev/null || fail "backend did not start"
write_config auto
"$RG" --ring-backend "$RB" -c rg.ini >rg.log 2>&1 &
RGPID=$!
RG_PIDS+=($RGPID)
wait_for 10 curl -sf http://127.0.0.1:9003/f/1k -o /dev/null || fail "file backend did not start"
wait_for 20 curl -sf --max-time 5 --cacert localhost.crt https://localhost:4433/hello -o /dev/null ||
	{ cat rg.log >&2; fail "ringgate does not serve HTTPS on 4433"; }
case $RB in
uring) grep -q "workers on the io_uring backend" rg.log || fail "not on io_uring: $(grep workers rg.log)" ;;
epoll) grep -q "workers on the epoll backend" rg.log || fail "not on epoll: $(grep workers rg.log)" ;;
esac
lap "started ($RB)"

URL=https://localhost:4433
C=(curl -sS --cacert localhost.crt --max-time 60)

# bodies by SHA-256, both protocols
for proto in --http1.1 --http2; do
	for f in zero 1k 10m 100m; do
		got=$("${C[@]}" "$proto" "$URL/f/$f" | sha256sum | cut -d' ' -f1)
		want=$(sha256sum <"www/f/$f" | cut -d' ' -f1)
		[[ $got == "$want" ]] || fail "$proto /f/$f: sha256 $got, want $want"
	done
	# the protocol curl spoke is the one asked for
	v=$("${C[@]}" "$proto" -o /dev/null -w '%{http_version}' "$URL/f/1k")
	[[ $v == "${proto#--http}" ]] || fail "$proto: curl spoke HTTP/$v"
	lap "$proto: 0 B, 1 KB, 10 MB, 100 MB by SHA-256"
done

# a 10 MB upload echoed, both protocols
head -c $((10 << 20)) /dev/urandom >up
want=$(sha256sum <up | cut -d' ' -f1)
for proto in --http1.1 --http2; do
	got=$("${C[@]}" "$proto" --data-binary @up -H 'Content-Type: application/octet-stream' "$URL/echo" |
		sha256sum | cut -d' ' -f1)
	[[ $got == "$want" ]] || fail "$proto: 10 MB upload echoed with sha256 $got"
done
lap "10 MB uploads echoed"

# keep-alive: two URLs on one curl share the connection
for proto in --http1.1 --http2; do
	"${C[@]}" "$proto" -v -o /dev/null -o /dev/null "$URL/f/1k" "$URL/hello" 2>keep.err ||
		fail "$proto: two URLs"
	grep -q "Re-using existing" keep.err || { cat keep.err >&2; fail "$proto: no connection reuse"; }
done
lap "keep-alive reuse"

# Alt-Svc on TCP responses of a vhost [quic] serves
for proto in --http1.1 --http2; do
	"${C[@]}" "$proto" -D hdr -o /dev/null "$URL/hello"
	grep -qi '^alt-svc: h3=":4433"; ma=86400' hdr || { cat hdr >&2; fail "$proto: no Alt-Svc"; }
done
# X-Forwarded-Proto https reaches the backend, Via names the protocol
"${C[@]}" --http1.1 "$URL/headers" >h1.txt
grep -qi '^x-forwarded-proto: https' h1.txt || { cat h1.txt >&2; fail "no X-Forwarded-Proto https (1.1)"; }
grep -qi '^via: 1.1 ' h1.txt || { cat h1.txt >&2; fail "Via is not 1.1"; }
"${C[@]}" --http2 "$URL/headers" >h2.txt
grep -qi '^x-forwarded-proto: https' h2.txt || { cat h2.txt >&2; fail "no X-Forwarded-Proto https (2)"; }
grep -qi '^via: 2 ' h2.txt || { cat h2.txt >&2; fail "Via is not 2"; }
lap "Alt-Svc, X-Forwarded-Proto, Via"

# max_header_bytes (16k by default): a 20 KB field is 431, both protocols
big=$(head -c 20000 /dev/zero | tr '\0' a)
for proto in --http1.1 --http2; do
	code=$("${C[@]}" "$proto" -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/hello")
	[[ $code == 431 ]] || fail "$proto: a 20 KB header field answered $code, want 431"
done
lap "max_header_bytes: 431"

# a bad request (Content-Length with Transfer-Encoding, RFC 9112 6.1):
# 400, and nothing reaches the backend
: >"$CONNLOG"
resp=$(printf 'POST /smuggle HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
	timeout 10 openssl s_client -quiet -connect 127.0.0.1:4433 -servername localhost -alpn http/1.1 2>/dev/null)
[[ $resp == "HTTP/1.1 400"* ]] || fail "CL+TE answered: ${resp:0:80}"
sleep 0.3
grep -q smuggle "$CONNLOG" && fail "the CL+TE request reached the backend"
lap "CL+TE: 400, the backend saw nothing"

# slowloris: a head that never ends is closed after header_timeout (2 s)
python3 - <<'PY' || fail "slowloris connection not closed after header_timeout"
import socket, ssl, time
ctx = ssl.create_default_context(cafile="localhost.crt")
ctx.set_alpn_protocols(["http/1.1"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 4433)), server_hostname="localhost")
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
t0 = time.time()
s.settimeout(0.5)
data = b""
while time.time() - t0 < 8:
    try:
        s.sendall(b"X-a: b\r\n")
    except OSError:
        break
    try:
        d = s.recv(4096)
        if not d:
            break
        data += d
    except socket.timeout:
        pass
    except OSError:
        break
el = time.time() - t0
print("closed after %.1f s: %r" % (el, data[:40]))
raise SystemExit(0 if 1.5 < el < 6 else 1)
PY
lap "slowloris closed"

# alt_svc = off by reload: new connections get no Alt-Svc
write_config off
curl -sf -X POST http://127.0.0.1:8082/reload -o /dev/null || fail "reload refused"
sleep 0.3
for proto in --http1.1 --http2; do
	"${C[@]}" "$proto" -D hdr -o /dev/null "$URL/hello"
	grep -qi '^alt-svc' hdr && { cat hdr >&2; fail "$proto: Alt-Svc with alt_svc = off"; }
done
lap "alt_svc = off"

# metrics
curl -sf http://127.0.0.1:8082/metrics >metrics || fail "no /metrics"
grep -Eq '^ringgate_https_connections_accepted_total\{[^}]*\} [1-9]' metrics ||
	{ grep https_conn metrics >&2; fail "no accepted count"; }
grep -Eq '^ringgate_tls_handshakes_total\{[^}]*proto="tcp"[^}]*\} [1-9]' metrics ||
	{ grep tls_handshakes metrics >&2; fail "no TCP handshakes counted by group"; }
grep -Eq '^ringgate_https_requests_total\{[^}]*protocol="2"[^}]*\} [1-9]' metrics || fail "no HTTP/2 requests counted"
grep -Eq '^ringgate_https_connection_ends_total\{[^}]*protocol="1.1",reason="header_timeout"[^}]*\} 1' metrics ||
	{ grep 'ends_total.*1.1' metrics >&2; fail "the slowloris end is not counted"; }

rg_stop $RGPID rg.log
echo "https ($RB): ok"
