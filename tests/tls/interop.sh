#!/bin/bash
# tls/tcp.h against TLS clients nobody here wrote, over loopback in a
# private network namespace: tcp_echo (tls_tcp on a blocking socket)
# answered by openssl s_client and gnutls-cli.
#  - s_client: TLS 1.3 + SNI a.test + ALPN h2 (leaf, ALPN, echo); TLS 1.2 +
#    SNI b.test + http/1.1; unknown SNI (unrecognized_name); ALPN with none
#    of ours (no_application_protocol); -sess_out / -sess_in resumption on
#    ANOTHER tcp_echo process with the same ticket key (another worker),
#    and none with another key.
#  - gnutls-cli: TLS 1.3 + h2 + echo, TLS 1.2, --resume.
#  - client certificates (issue 9 §3) with both: accepted (subject seen by
#    the server), none on require refused, none on optional served, one
#    from another CA refused.
# Args: tcp_echo
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
ECHO=$(realpath "$1")
[[ -x $ECHO ]] || fail "usage: interop.sh TCP_ECHO"
command -v openssl >/dev/null || fail "openssl (package openssl) is needed"
command -v gnutls-cli >/dev/null || fail "gnutls-cli (package gnutls-bin, tools/setup.sh) is needed"
PORT=8443
cd "$RG_TMP"
for n in a.test b.test; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$n" \
		-addext "subjectAltName=DNS:$n" -keyout $n.key -out $n.crt 2>/dev/null || fail "openssl req"
done
# client certificates: a CA, a client it signed, a client of another CA
printf 'extendedKeyUsage=clientAuth\n' >ext
for ca in ca other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$ca test CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
		-keyout $ca.key -out $ca.pem 2>/dev/null || fail "openssl req $ca"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=client-of-$ca" \
		-keyout cl-$ca.key -out cl-$ca.csr 2>/dev/null &&
		openssl x509 -req -in cl-$ca.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial -days 2 -extfile ext \
			-out cl-$ca.pem 2>/dev/null || fail "openssl x509 $ca"
done
KEY=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
KEY2=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')

start() { # NAME KEY
	SRV_NAME=$1
	"$ECHO" --port $PORT --ticket-key "$2" --vhost a.test,a.test.crt,a.test.key \
		--vhost b.test,b.test.crt,b.test.key --vhost mtls.test,a.test.crt,a.test.key,ca.pem,require \
		--vhost opt.test,a.test.crt,a.test.key,ca.pem,optional >"$1.out" 2>"$1.err" &
	SRV_PID=$!
	RG_PIDS+=("$SRV_PID")
	wait_for 10 grep -q listening "$1.err" || { cat "$1.err" >&2; fail "$1: tcp_echo did not start"; }
}
stop() {
	kill -TERM "$SRV_PID" 2>/dev/null
	local rc=0
	wait "$SRV_PID" || rc=$?
	rg_forget "$SRV_PID"
	[[ $rc -eq 0 ]] || { cat "$SRV_NAME.err" >&2; fail "$SRV_NAME: tcp_echo exited $rc"; }
	rg_clean_log "$SRV_NAME.err" "$SRV_NAME"
}
counter() { awk -v n="$1" '$1 == n { print $2 }' "$SRV_NAME.out"; }
sclient() { # NAME ARGS...: sends a line, gives the server a second to echo
	(echo "hello-$1"; sleep 1) | timeout 20 openssl s_client -connect 127.0.0.1:$PORT "${@:2}" >"$1.log" 2>&1
	true
}
has() { grep -q -- "$2" "$1.log" || { cat "$1.log" >&2; fail "$1: no '$2' in the client's output"; }; }
srv_has() { grep -q -- "$1" "$SRV_NAME.out" || { cat "$SRV_NAME.out" >&2; fail "$SRV_NAME: no '$1'"; }; }

# ---- openssl s_client ----
start w1 "$KEY"
sclient t13 -servername a.test -alpn h2 -sess_out sess
has t13 "ALPN protocol: h2"
has t13 "TLSv1.3"
has t13 "hello-t13"        # the echo
grep -Eq "subject=.*CN ?= ?a.test" t13.log || fail "t13: the leaf is not a.test's"
srv_has "hs sni=a.test alpn=h2 version=TLSv1.3 resumed=0"
sclient t12 -servername b.test -alpn http/1.1 -tls1_2
has t12 "ALPN protocol: http/1.1"
has t12 "Protocol *: TLSv1.2"
has t12 "hello-t12"
grep -Eq "subject=.*CN ?= ?b.test" t12.log || fail "t12: the leaf is not b.test's"
grep -q "Cipher is ECDHE-" t12.log || fail "t12: not an ECDHE suite"
srv_has "hs sni=b.test alpn=http/1.1 version=TLSv1.2"
sclient unknown -servername c.test -alpn h2
grep -qi "unrecognized name" unknown.log || { cat unknown.log >&2; fail "unknown SNI: no unrecognized_name alert"; }
sclient noalpn -servername a.test -alpn spdy/3,h3
grep -qi "no application protocol" noalpn.log || { cat noalpn.log >&2; fail "ALPN mismatch: no no_application_protocol alert"; }
sclient plain -noservername
has plain "hello-plain"
srv_has "hs sni=- alpn=none version=TLSv1.3 resumed=0 group=.* vhost=a.test"
stop
[[ $(counter handshakes) == 3 && $(counter unknown_sni) == 1 && $(counter alpn_refused) == 1 &&
	$(counter failures) == 2 && $(counter tls12) == 1 ]] || { cat w1.out >&2; fail "w1: counters"; }
[[ -s sess ]] || fail "s_client saved no session"

# another process with the same ticket key resumes; one with another key does not
start w2 "$KEY"
sclient resume -servername a.test -alpn h2 -sess_in sess
has resume "Reused, TLSv1.3"
has resume "hello-resume"
srv_has "resumed=1"
stop
[[ $(counter resumed) == 1 ]] || fail "w2: resumed counter $(counter resumed)"
start w3 "$KEY2"
sclient other -servername a.test -alpn h2 -sess_in sess
has other "New, TLSv1.3"
stop
[[ $(counter resumed) == 0 ]] || fail "w3: a ticket of another key resumed"

# ---- gnutls-cli ----
gcli() { # NAME ARGS...
	(echo "hello-$1"; sleep 1) | timeout 20 gnutls-cli --no-ca-verification -p $PORT "${@:2}" 127.0.0.1 >"$1.log" 2>&1
	true
}
start w4 "$KEY"
gcli g13 --sni-hostname=a.test --alpn=h2
has g13 "Application protocol: h2"
has g13 "(TLS1.3-"
has g13 "hello-g13"
gcli g12 --sni-hostname=b.test --alpn=http/1.1 --priority=NORMAL:-VERS-ALL:+VERS-TLS1.2
has g12 "(TLS1.2-"
has g12 "Application protocol: http/1.1"
has g12 "hello-g12"
gcli gres --sni-hostname=a.test --resume
has gres "This is a resumed session"
srv_has "hs sni=b.test alpn=http/1.1 version=TLSv1.2"
stop
[[ $(counter resumed) -ge 1 ]] || fail "w4: gnutls-cli --resume did not resume"
# ---- client certificates ----
start w5 "$KEY"
sclient m1 -servername mtls.test -cert cl-ca.pem -key cl-ca.key
has m1 "hello-m1"
srv_has "vhost=mtls.test peer=CN=client-of-ca"
sclient m2 -servername mtls.test
grep -q "hello-m2" m2.log && fail "require: s_client without a certificate was served"
sclient m3 -servername mtls.test -cert cl-other.pem -key cl-other.key
grep -q "hello-m3" m3.log && fail "require: a certificate of another CA was accepted"
sclient m4 -servername opt.test
has m4 "hello-m4"
srv_has "vhost=opt.test peer=-"
gcli m5 --sni-hostname=mtls.test --x509certfile=cl-ca.pem --x509keyfile=cl-ca.key
has m5 "hello-m5"
gcli m6 --sni-hostname=mtls.test
grep -q "hello-m6" m6.log && fail "require: gnutls-cli without a certificate was served"
gcli m7 --sni-hostname=opt.test --x509certfile=cl-ca.pem --x509keyfile=cl-ca.key --priority=NORMAL:-VERS-ALL:+VERS-TLS1.2
has m7 "hello-m7"
stop
[[ $(counter client_cert_refused) == 3 && $(counter handshakes) == 4 ]] ||
	{ cat w5.out >&2; fail "w5: counters"; }
[[ $(grep -c "peer=CN=client-of-ca" w5.out) == 3 ]] || { cat w5.out >&2; fail "w5: verified subjects"; }
note "interop: s_client and gnutls-cli: handshakes, SNI, ALPN, alerts, resumption across processes"
