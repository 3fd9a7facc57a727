#!/bin/bash
# Issue 20 §4 on the OpenSSL >= 3.5 build (registered only there: the
# Debian 13 root of CI, tools/d13-ci.sh): the HTTPS front end over TCP
# ([https] listen) follows [tls] pq for clients nobody here wrote, trixie's
# openssl s_client and curl (OpenSSL 3.5):
#  - s_client -groups X25519MLKEM768: "Negotiated TLS1.3 group:
#    X25519MLKEM768" and a 200 over HTTP/1.1;
#  - s_client -groups X25519 under pq = prefer (the default): served in
#    X25519; s_client -groups secp256r1 (a Debian 12-era classical client):
#    served in secp256r1;
#  - curl --http2 with its default groups: the hybrid, seen by the server
#    (ringgate_tls_handshakes_total{proto="tcp",group="X25519MLKEM768"});
#  - pq = require (reload): s_client -groups X25519 is refused and
#    ringgate_tls_pq_refused_total{proto="tcp"} moves; the hybrid is still
#    served.
# Args: ringgate
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../quic/common.sh"
in_private_netns "$@"
RG=$(realpath "$1")
ADMIN=http://127.0.0.1:8082
"$RG" --version | grep -q "post-quantum groups available" || fail "not a PQ build: $("$RG" --version | tail -1)"
openssl version | grep -Eq '^OpenSSL 3\.([5-9]|[1-9][0-9])' || fail "openssl s_client is not >= 3.5: $(openssl version)"
make_cert "$RG_TMP" localhost
cd "$RG_TMP" || fail "tmp"
chmod 600 localhost.key
conf() { # [tls] LINES
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082
[https]
listen = 127.0.0.1:$PORT
[tls]
${1:-}
$(rg_site_ini)
INI
}
conf ""
rg_site_backend
rg_start
wait_for 10 curl -sf --cacert localhost.crt "https://localhost:$PORT/x" -o /dev/null ||
	{ cat rg.log >&2; fail "ringgate does not serve HTTPS on $PORT"; }
g() { sleep 0.3; metric_sum $ADMIN/metrics "^ringgate_tls_handshakes_total\\{.*proto=\"tcp\",group=\"$1\"\\}"; }
refused() { sleep 0.3; metric_sum $ADMIN/metrics "^ringgate_tls_pq_refused_total\\{.*proto=\"tcp\""; }
# sc NAME GROUPS: s_client offering only GROUPS, a GET over HTTP/1.1;
# 0 when the certificate verified and the backend answered 200
sc() {
	printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 15 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile localhost.crt \
			-verify_return_error -alpn http/1.1 -groups "$2" -ign_eof >"$1.out" 2>"$1.err"
	grep -q '^HTTP/1.1 200' "$1.out" && grep -q 'Verify return code: 0 (ok)' "$1.out"
}
# the group s_client (3.5) reports: "Negotiated TLS1.3 group: X25519MLKEM768"
# for the hybrid, "Peer Temp Key: X25519, 253 bits" or "Peer Temp Key:
# ECDH, prime256v1, 256 bits" for a classical one
group_of() {
	sed -n -e 's/^Negotiated TLS1.3 group: //p' -e 's/^Peer Temp Key: X25519,.*/X25519/p' \
		-e 's/^Peer Temp Key: ECDH, prime256v1,.*/secp256r1/p' "$1.out"
}
gen() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["config_generation"] if all(x == s["config_generation"] for x in s["worker_generations"]) else -1)'; }
gen_is() { [[ $(gen) == "$1" ]]; }
reload() { # [tls] LINES
	local g0
	g0=$(gen)
	conf "$1"
	code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
	[[ $code == 200 ]] || { cat body >&2; fail "reload '$1': HTTP $code"; }
	wait_for 5 gen_is $((g0 + 1)) || fail "workers not on generation $((g0 + 1))"
}

# ---- pq = prefer (the default) ----
h0=$(g X25519MLKEM768)
sc hyb X25519MLKEM768 || { cat hyb.err hyb.out >&2; fail "s_client -groups X25519MLKEM768 not served"; }
[[ $(group_of hyb) == X25519MLKEM768 ]] || fail "s_client -groups X25519MLKEM768: negotiated '$(group_of hyb)'"
[[ $(g X25519MLKEM768) == $((h0 + 1)) ]] || { curl -s $ADMIN/metrics | grep tls_handshakes >&2; fail "the hybrid not counted (tcp)"; }
x0=$(g X25519)
sc cls X25519 || { cat cls.err cls.out >&2; fail "s_client -groups X25519 refused under pq = prefer"; }
[[ $(group_of cls) == X25519 ]] || fail "s_client -groups X25519: negotiated '$(group_of cls)'"
[[ $(g X25519) == $((x0 + 1)) ]] || fail "X25519 not counted (tcp)"
sc p256 secp256r1 || { cat p256.err p256.out >&2; fail "s_client -groups secp256r1 refused under pq = prefer"; }
[[ $(group_of p256) == secp256r1 ]] || fail "s_client -groups secp256r1: negotiated '$(group_of p256)'"
note "prefer: s_client X25519MLKEM768, X25519 and secp256r1 each served in the group offered"
# trixie's curl with its default groups over HTTP/2
h0=$(g X25519MLKEM768)
v=$(timeout 15 curl -s --http2 --cacert localhost.crt -o curl.body -w '%{http_code} %{http_version}' \
	"https://localhost:$PORT/c" 2>curl.err)
[[ $v == "200 2" && $(cat curl.body) == "rg /c" ]] || { cat curl.err >&2; fail "curl --http2: '$v' '$(cat curl.body)'"; }
[[ $(g X25519MLKEM768) == $((h0 + 1)) ]] ||
	{ curl -s $ADMIN/metrics | grep tls_handshakes >&2; fail "curl's default groups did not get X25519MLKEM768 over TCP"; }
note "curl (HTTP/2, default groups): X25519MLKEM768"
# ---- pq = require ----
reload "pq = require"
r0=$(refused)
sc req X25519 && fail "s_client -groups X25519 served under pq = require"
(($(refused) > r0)) || { curl -s $ADMIN/metrics | grep pq_refused >&2; fail "tls_pq_refused_total{proto=tcp} did not move"; }
r1=$(refused)
sc req256 secp256r1 && fail "s_client -groups secp256r1 served under pq = require"
(($(refused) > r1)) || fail "secp256r1 under pq = require: not counted as refused"
# logged with the client's address (issue 20 §2), through the process's log
grep -q 'tls: TCP handshake from 127\.0\.0\.1:[0-9]* refused: pq = require' rg.log ||
	{ tail -20 rg.log >&2; fail "the pq = require refusal was not logged with the client's address"; }
sc req2 X25519MLKEM768 || { cat req2.err req2.out >&2; fail "the hybrid refused under pq = require"; }
[[ $(group_of req2) == X25519MLKEM768 ]] || fail "pq = require: negotiated '$(group_of req2)'"
note "require: X25519 and secp256r1 refused ($(refused) counted), the hybrid served; tcp handshakes hybrid $(g X25519MLKEM768), X25519 $(g X25519)"
rg_stop "$RG_PID" rg.log ringgate
echo "PASS"
