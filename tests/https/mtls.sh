#!/usr/bin/env bash
# Client certificates end to end (issue 9 §3): Debian's curl (OpenSSL) over
# HTTPS/TCP, HTTP/1.1 and HTTP/2, against a [vhost] with client_ca and
# client_auth = require, then (reload) optional; tests/proxy/backend.py
# /headers shows what the backend received. The backend sees the verified
# subject and SHA-256 exactly as openssl prints them; a client without a
# certificate, or with one of another CA, is refused and counted; the
# client's own X-Client-Cert-* are dropped, with and without mTLS, also over
# HTTP/3 (h3client), and over HTTP/3 the same as over TCP on either TLS
# backend (gnutls, OpenSSL: issue 20). --validate refuses what cannot work,
# with FILE:LINE.
# usage: mtls.sh RINGGATE BACKEND_PY [H3CLIENT]
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") BACKEND=$(realpath "$2") H3=${3:-}
[[ -n $H3 ]] && H3=$(realpath "$H3")
. "$(dirname "$0")/../quic/common.sh"
cd "$RG_TMP" || fail "no temp dir"
make_cert "$RG_TMP" localhost
ADMIN=http://127.0.0.1:8082

# a CA and its client; a rogue CA and its client (same subject)
for ca in ca rogue; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$ca test CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign \
		-keyout $ca.key -out $ca.pem 2>/dev/null || fail "openssl req $ca"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Ringgate Test/CN=client one" \
		-keyout cl-$ca.key -out cl-$ca.csr 2>/dev/null || fail "openssl req client $ca"
	printf 'extendedKeyUsage=clientAuth\n' >ext
	openssl x509 -req -in cl-$ca.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial -days 2 -extfile ext \
		-out cl-$ca.pem 2>/dev/null || fail "openssl x509 $ca"
done
SUBJ=$(openssl x509 -noout -subject -nameopt RFC2253 -in cl-ca.pem) SUBJ=${SUBJ#subject=}
FP=$(openssl x509 -noout -fingerprint -sha256 -in cl-ca.pem) FP=${FP#*=} FP=${FP//:/} FP=${FP,,}
[[ $SUBJ == "CN=client one,O=Ringgate Test" && ${#FP} == 64 ]] || fail "openssl printed '$SUBJ' '$FP'"

HDRLOG=$RG_TMP/headers.log python3 "$BACKEND" 9001 A &
RG_PIDS+=($!)
wait_for 10 curl -sf http://127.0.0.1:9001/x -o /dev/null || fail "backend did not start"

write_config() { # FILE client_auth [quic]
	{
		printf '[appliance]\nworkers = 1\nadmin = 127.0.0.1:8082\n\n'
		[[ -n ${3:-} ]] && printf '[quic]\nlisten = 127.0.0.1:4433\n\n'
		cat <<INI
[https]
listen = 127.0.0.1:4433

[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key
client_ca = $RG_TMP/ca.pem
client_auth = $2

[backend a]
server = 127.0.0.1:9001

[route api]
host = localhost
path_prefix = /
backend = a
INI
	} >"$1"
}

# ---- --validate: what cannot work is refused with FILE:LINE
write_config v.ini require
sed 's/^client_ca = .*/client_ca =/' v.ini >v-noca.ini
"$RG" --validate -c v-noca.ini >val.out 2>&1 && fail "client_auth = require without client_ca accepted"
grep -q "v-noca.ini:1[0-9]:.*client_auth = require needs client_ca" val.out || { cat val.out >&2; fail "no FILE:LINE for a missing client_ca"; }
sed "s|^client_ca = .*|client_ca = $RG_TMP/localhost.key|" v.ini >v-notpem.ini
"$RG" --validate -c v-notpem.ini >val.out 2>&1 && fail "a client_ca that is no certificate accepted"
grep -q "v-notpem.ini:1[0-9]:.*client_ca: .*not a PEM" val.out || { cat val.out >&2; fail "no FILE:LINE for a bad client_ca"; }
sed "s|^client_ca = .*|client_ca = $RG_TMP/nope.pem|" v.ini >v-nofile.ini
"$RG" --validate -c v-nofile.ini >val.out 2>&1 && fail "a missing client_ca file accepted"
grep -q "v-nofile.ini:1[0-9]:.*client_ca: cannot read" val.out || { cat val.out >&2; fail "no FILE:LINE for an unreadable client_ca"; }
# with [quic]: both backends' QUIC ask for certificates (gnutls, and
# OpenSSL since issue 20), so the name is served over HTTP/3 too
write_config v-quic.ini require quic
QUIC_MTLS=1
"$RG" --validate -c v-quic.ini >val.out 2>&1 ||
	{ cat val.out >&2; fail "require with [quic] refused ($("$RG" --version | grep '^tls:'))"; }
"$RG" --validate -c v.ini >val.out 2>&1 || { cat val.out >&2; fail "a good mTLS config refused"; }
note "--validate refusals"

refused() { # the sum over the workers
	curl -sf $ADMIN/metrics | awk '/^ringgate_tls_tcp_client_cert_refused_total[{ ]/ { n += $NF; seen = 1 }
		END { if (seen) print n }'
}
URL=https://localhost:4433
C=(curl -sS --cacert localhost.crt --max-time 20)
ME=(--cert cl-ca.pem --key cl-ca.key)
has_cert() { # FILE: the backend saw exactly the verified values, once each
	[[ $(grep -ci '^x-client-cert-subject:' "$1") == 1 && $(grep -ci '^x-client-cert-sha256:' "$1") == 1 ]] &&
		grep -qx "X-Client-Cert-Subject: $SUBJ" "$1" && grep -qx "X-Client-Cert-Sha256: $FP" "$1"
}

# ---- require
write_config rg.ini require
"$RG" -c rg.ini >rg.log 2>&1 &
RGPID=$!
RG_PIDS+=($RGPID)
wait_for 20 "${C[@]}" "${ME[@]}" -f $URL/hello -o /dev/null || { cat rg.log >&2; fail "ringgate does not serve mTLS on 4433"; }
for proto in --http1.1 --http2; do
	"${C[@]}" "$proto" "${ME[@]}" -f -H 'X-Client-Cert-Subject: evil' -H 'x-client-cert-sha256: 00' \
		$URL/headers >h.out || fail "$proto: with a certificate"
	has_cert h.out || { cat h.out >&2; fail "$proto: the backend did not see '$SUBJ' / $FP alone"; }
	grep -qi "evil\|: 00$" h.out && { cat h.out >&2; fail "$proto: forged copies reached the backend"; }
	v=$("${C[@]}" "$proto" "${ME[@]}" -o /dev/null -w '%{http_version}' $URL/headers)
	[[ $v == "${proto#--http}" ]] || fail "$proto: curl spoke HTTP/$v"
done
note "require: HTTP/1.1 and HTTP/2 with a certificate, headers verified, forgeries dropped"
r0=$(refused)
for proto in --http1.1 --http2; do
	"${C[@]}" "$proto" -o /dev/null $URL/headers 2>no.err && fail "$proto: served without a certificate"
	"${C[@]}" "$proto" --cert cl-rogue.pem --key cl-rogue.key -o /dev/null $URL/headers 2>rogue.err &&
		fail "$proto: served with another CA's certificate"
done
# the workers publish their counters now and then: wait for them
wait_for 5 eval '(( $(refused) - r0 >= 4 ))'
r1=$(refused)
[[ -n $r0 && -n $r1 ]] && (( r1 - r0 == 4 )) || fail "client_cert_refused went $r0 -> $r1, want +4"
note "require: no certificate / a rogue one refused, counted ($r0 -> $r1)"

# ---- reload to optional (new connections)
write_config rg.ini optional
curl -sf -X POST $ADMIN/reload -o /dev/null || { tail rg.log >&2; fail "reload refused"; }
wait_for 10 "${C[@]}" -f -o /dev/null $URL/hello || fail "optional after reload: no certificate refused"
for proto in --http1.1 --http2; do
	"${C[@]}" "$proto" -f -H 'X-Client-Cert-Subject: evil' -H 'X-Client-Cert-Sha256: 00' $URL/headers >h.out ||
		fail "$proto: optional without a certificate"
	grep -qi "^x-client-cert" h.out && { cat h.out >&2; fail "$proto: X-Client-Cert-* without a certificate"; }
	grep -q "X-Forwarded-Proto: https" h.out || { cat h.out >&2; fail "$proto: not the proxied head"; }
	"${C[@]}" "$proto" "${ME[@]}" -f $URL/headers >h.out || fail "$proto: optional with a certificate"
	has_cert h.out || { cat h.out >&2; fail "$proto: optional: the backend did not see the certificate"; }
done
r0=$(refused)
"${C[@]}" --cert cl-rogue.pem --key cl-rogue.key -o /dev/null $URL/headers 2>/dev/null &&
	fail "optional: served with another CA's certificate"
wait_for 5 eval '(( $(refused) - r0 >= 1 ))'
r1=$(refused)
(( r1 - r0 == 1 )) || fail "optional rogue: client_cert_refused $r0 -> $r1"
note "optional (after reload): without 200 and no headers, with the headers, rogue refused"

# ---- a ticket issued while the vhost trusted the rogue CA, offered after
# a reload back to require with the real CA: a resumed handshake skips the
# Certificate message, so the certificate the ticket carries must verify
# against the CAs of now, or the connection is refused (and counted)
sc() { # OUT S_CLIENT-ARGS...: GET /headers as the rogue client (HTTP/1.1)
	local out=$1
	shift
	printf 'GET /headers HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 20 openssl s_client -connect 127.0.0.1:4433 -servername localhost -ign_eof \
			-cert cl-rogue.pem -key cl-rogue.key "$@" >"$out" 2>"$out.err"
}
sed -i "s|^client_ca = .*|client_ca = $RG_TMP/rogue.pem|" rg.ini
curl -sf -X POST $ADMIN/reload -o /dev/null || { tail rg.log >&2; fail "reload to the rogue CA refused"; }
wait_for 10 "${C[@]}" --cert cl-rogue.pem --key cl-rogue.key -f -o /dev/null $URL/hello ||
	fail "optional with the rogue CA: its certificate refused"
rm -f tcp.sess
sc s1.out -sess_out tcp.sess
grep -aq "HTTP/1.1 200 OK" s1.out && [[ -s tcp.sess ]] || { tail -20 s1.out >&2; fail "s_client under the rogue CA: no 200 or no ticket"; }
write_config rg.ini require
curl -sf -X POST $ADMIN/reload -o /dev/null || { tail rg.log >&2; fail "reload back to require refused"; }
wait_for 10 "${C[@]}" "${ME[@]}" -f -o /dev/null $URL/hello || fail "require again: a certificate refused"
: >headers.log
r0=$(refused)
sc s2.out -sess_in tcp.sess
grep -aq "HTTP/1.1 200 OK" s2.out && { grep -i "reused\|^new" s2.out >&2; fail "a ticket of the rogue CA's days was served after the reload"; }
grep -q "^GET /headers" headers.log && fail "the backend saw the rogue ticket's request"
wait_for 5 eval '(( $(refused) - r0 >= 1 ))' || { tail -20 s2.out >&2; fail "the rogue CA's ticket after the reload: no refusal counted"; }
note "a TCP ticket whose certificate the CAs of now do not verify is refused"
rg_stop "$RGPID" rg.log "ringgate (TCP)"

# ---- HTTP/3 ([quic] beside [https]): require, then (reload) off; the
# client's own X-Client-Cert-* dropped both times
[[ -n $H3 && -x $H3 ]] || { note "no h3client: HTTP/3 is not checked"; echo "mtls: ok"; exit 0; }
h3() { "$H3" --cacert localhost.crt --resolve localhost:4433:127.0.0.1 --connect-timeout 20 "$@"; }
quic_refused() {
	curl -sf $ADMIN/metrics | awk '/^ringgate_quic_client_cert_refused_total[{ ]/ { n += $NF; seen = 1 }
		END { if (seen) print n }'
}
if [[ -n $QUIC_MTLS ]]; then
	write_config rg3.ini require quic
	# 0-RTT allowed by the route: a request in early data must still wait
	# for the certificate's verdict
	sed -i 's/^\[quic\]$/[quic]\nzero_rtt = on/; s/^backend = a$/backend = a\nallow_0rtt = yes/' rg3.ini
else
	write_config rg3.ini off quic
fi
"$RG" -c rg3.ini >rg3.log 2>&1 &
RGPID=$!
RG_PIDS+=($RGPID)
wait_for 20 "${C[@]}" "${ME[@]}" -f $URL/hello -o /dev/null || { cat rg3.log >&2; fail "ringgate with [quic] does not start"; }
h3 $URL/hello >h3.out 2>&1
[[ $? == 77 ]] && { note "this libcurl has no HTTP/3: not checked"; rg_stop "$RGPID" rg3.log; echo "mtls: ok"; exit 0; }
if [[ -n $QUIC_MTLS ]]; then
	: >headers.log
	h3 --cert cl-ca.pem --key cl-ca.key --header 'X-Client-Cert-Subject: evil' --header 'X-Client-Cert-Sha256: 00' \
		$URL/headers >h3.out 2>&1 || { cat h3.out rg3.log >&2; fail "HTTP/3 with a certificate"; }
	grep -q "^200 " h3.out || { cat h3.out >&2; fail "HTTP/3 with a certificate: not 200"; }
	grep -q "^Via: 3 ringgate" headers.log || { cat headers.log >&2; fail "HTTP/3: not the proxied head"; }
	has_cert headers.log || { cat headers.log >&2; fail "HTTP/3: the backend did not see '$SUBJ' / $FP alone"; }
	grep -qi "evil\|: 00$" headers.log && { cat headers.log >&2; fail "HTTP/3: forged copies reached the backend"; }
	q0=$(quic_refused)
	h3 $URL/headers >h3.out 2>&1 && { cat h3.out >&2; fail "HTTP/3 served without a certificate"; }
	h3 --cert cl-rogue.pem --key cl-rogue.key $URL/headers >h3.out 2>&1 &&
		{ cat h3.out >&2; fail "HTTP/3 served with another CA's certificate"; }
	wait_for 5 eval '(( $(quic_refused) - q0 >= 2 ))'
	q1=$(quic_refused)
	[[ -n $q0 && -n $q1 ]] && (( q1 - q0 == 2 )) || fail "quic client_cert_refused went $q0 -> $q1, want +2"
	note "HTTP/3 require: certificate verified, headers as openssl prints them, none / rogue refused ($q0 -> $q1)"
	if GTLS=$(find_gtlsclient); then
		gtls() { # NAME ARGS... URL: with the client certificate and the saved ticket
			timeout 30 "$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump --cert cl-ca.pem \
				--key cl-ca.key --session-file=sess --tp-file=tp "${@:2:$#-2}" 127.0.0.1 4433 "${@: -1}" >"$1.log" 2>&1 ||
				{ tail -20 "$1.log" >&2; fail "gtlsclient $1"; }
		}
		: >headers.log
		gtls z1 --wait-for-ticket $URL/headers
		[[ -s sess ]] || { tail z1.log >&2; fail "gtlsclient: no ticket"; }
		gtls z2 $URL/headers
		grep -q 'type=0RTT' z2.log || { tail z2.log >&2; fail "gtlsclient sent no 0-RTT"; }
		grep -q 'status: 425' z2.log || { tail -30 z2.log >&2; cat headers.log >&2; fail "a request in 0-RTT was not answered 425"; }
		[[ $(grep -c "^GET /headers" headers.log) == 1 ]] || { grep -i "status\|error" z1.log z2.log >&2; cat headers.log >&2; fail "the 0-RTT request reached the backend"; }
		note "HTTP/3 0-RTT on a client_auth vhost: 425, not forwarded"
		# a ticket issued while localhost trusted the rogue CA (optional),
		# offered after a reload back to require with the real CA: a
		# resumed handshake skips the Certificate message, so the
		# certificate the ticket carries must verify against the CAs of
		# now, or the connection is refused (and counted)
		cp rg3.ini rg3-require.ini
		sed -i "s|^client_ca = .*|client_ca = $RG_TMP/rogue.pem|; s/^client_auth = require$/client_auth = optional/" rg3.ini
		curl -sf -X POST $ADMIN/reload -o /dev/null || { tail rg3.log >&2; fail "reload to the rogue CA refused"; }
		rm -f sess2
		: >headers.log
		wait_for 10 eval '"$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump --cert cl-rogue.pem --key cl-rogue.key \
			--session-file=sess2 --tp-file=tp2 --wait-for-ticket 127.0.0.1 4433 $URL/headers >o1.log 2>&1 && grep -q "^GET /headers" headers.log' ||
			{ tail -20 o1.log >&2; fail "optional with the rogue CA: gtlsclient refused"; }
		[[ -s sess2 ]] || { tail o1.log >&2; fail "gtlsclient: no ticket under the rogue CA"; }
		cp rg3-require.ini rg3.ini
		curl -sf -X POST $ADMIN/reload -o /dev/null || { tail rg3.log >&2; fail "reload back to require refused"; }
		wait_for 10 h3 --cert cl-ca.pem --key cl-ca.key $URL/hello >/dev/null 2>&1 || fail "require again: HTTP/3 with a certificate refused"
		: >headers.log
		q0=$(quic_refused)
		timeout 30 "$GTLS" --exit-on-all-streams-close --no-quic-dump --no-http-dump --cert cl-rogue.pem --key cl-rogue.key \
			--session-file=sess2 --tp-file=tp2 127.0.0.1 4433 $URL/headers >o2.log 2>&1
		grep -q "^GET /headers" headers.log && { cat headers.log >&2; fail "a ticket of the rogue CA's days opened localhost after the reload"; }
		wait_for 5 eval '(( $(quic_refused) - q0 >= 1 ))' ||
			{ tail -20 o2.log >&2; fail "the rogue CA's ticket after the reload: no refusal counted"; }
		note "HTTP/3: a ticket whose certificate the CAs of now do not verify is refused"
	else
		note "no gtlsclient (ngtcp2-client): 0-RTT with client_auth is not checked"
	fi
	write_config rg3.ini off quic
	curl -sf -X POST $ADMIN/reload -o /dev/null || { tail rg3.log >&2; fail "reload refused"; }
	wait_for 10 h3 $URL/hello || fail "client_auth off after reload: HTTP/3 without a certificate refused"
fi
: >headers.log
h3 --header 'X-Client-Cert-Subject: evil' --header 'X-Client-Cert-Sha256: 00' $URL/headers >h3.out 2>&1 ||
	{ cat h3.out >&2; fail "HTTP/3 request"; }
grep -q "^Via: 3 ringgate" headers.log || { cat headers.log >&2; fail "HTTP/3: not the proxied head"; }
grep -qi "^x-client-cert\|evil" headers.log && { cat headers.log >&2; fail "HTTP/3 without mTLS: forged headers reached the backend"; }
note "HTTP/3 without mTLS: forged X-Client-Cert-* dropped"
rg_stop "$RGPID" rg3.log "ringgate (QUIC)"
echo "mtls: ok"
