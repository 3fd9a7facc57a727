#!/bin/bash
# Issue 20: [tls] groups / pq and their [vhost] overrides, on either TLS
# backend (the build's `ringgate --version` says which):
#  - --validate: on the gnutls build a hybrid group or pq = require is
#    refused with FILE:LINE and tls_groups_check's reason, in [tls] and in
#    a [vhost]; on the OpenSSL >= 3.5 build the same file is valid. An
#    unknown group and a bad pq are refused on both; a classical list is
#    valid on both.
#  - a running ringgate (2 workers) with groups = X25519: gtlsclient
#    completes, ringgate_tls_handshakes_total{proto="quic",group="x25519"}
#    moves; a client offering only secp384r1 is refused; after a reload to
#    groups = secp384r1 that client completes and the secp384r1 counter
#    moves (new handshakes take the new list); a [vhost] override beats
#    [tls]; GET /status lists each vhost's groups and pq as loaded.
# Args: ringgate
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
RG=$(realpath "$1")
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
ADMIN=http://127.0.0.1:8082
make_cert "$RG_TMP" localhost
cd "$RG_TMP" || fail "tmp"
chmod 600 localhost.key
if "$RG" --version | grep -q "post-quantum groups available"; then PQ=1; else PQ=0; fi
note "$("$RG" --version | tail -1)"

# conf TLS_LINES VHOST_LINES: rg.ini with [tls] on lines 7-8, the vhost's
# extra keys from line 13
conf() {
	cat >"${3:-rg.ini}" <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082
[quic]
listen = 127.0.0.1:$PORT
[tls]
${1:-}
pq = ${4:-prefer}
[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key
# the vhost's own:
${2:-}
INI
}
validate() { # WANT_RC FILE
	"$RG" --validate -c "$2" >out 2>err
	local rc=$?
	[[ $rc == "$1" ]] || { cat out err >&2; fail "--validate $2: exit $rc, want $1"; }
}
refused() { # FILE LINE PATTERN
	validate 1 "$1"
	grep -q "^$1:$2: .*$3" err || { cat err >&2; fail "$1: no '$1:$2: ...$3'"; }
}
conf "groups = X25519MLKEM768, X25519" "" hyb.ini
conf "" "pq = require" vreq.ini
conf "groups = X25519" "groups = X25519MLKEM768" vhyb.ini
conf "" "" req.ini require
if ((PQ)); then
	validate 0 hyb.ini
	validate 0 vhyb.ini
	validate 0 req.ini
	validate 0 vreq.ini
else
	refused hyb.ini 7 "\[tls\] groups = X25519MLKEM768, X25519: X25519MLKEM768 needs the OpenSSL >= 3.5 build; this build uses gnutls"
	refused vhyb.ini 13 "\[vhost localhost\] groups = X25519MLKEM768: X25519MLKEM768 needs the OpenSSL >= 3.5 build"
	refused req.ini 8 "\[tls\] pq = require: pq = require needs the OpenSSL >= 3.5 build"
	refused vreq.ini 13 "\[vhost localhost\] pq = require: pq = require needs the OpenSSL >= 3.5 build"
fi
conf "groups = X25519, frodo" "" unk.ini
refused unk.ini 7 "unknown group in 'X25519, frodo'"
conf "groups = X25519; secp256r1" "" syn.ini
refused syn.ini 7 "groups = X25519; secp256r1: not a list of key-exchange group names"
conf "" "" badpq.ini maybe
refused badpq.ini 8 "pq = maybe: want one of: prefer | require | off"
conf "groups = X25519MLKEM768" "" off.ini off
refused off.ini 8 "pq = off, yet groups names X25519MLKEM768\|X25519MLKEM768 needs the OpenSSL"
conf "groups = X25519, secp256r1, secp384r1" "" classic.ini
validate 0 classic.ini
note "--validate: refusals with FILE:LINE and the reason, classical list valid"

# ---- a running ringgate: the group handshakes use follows the config ----
conf "groups = X25519"
rg_start
g() { sleep 0.3; metric_sum $ADMIN/metrics "^ringgate_tls_handshakes_total\\{.*proto=\"quic\",group=\"$1\"\\}"; }
# gtls NAME GNUTLS_GROUPS: one request; 0 when it completed
gtls() {
	mkdir -p "$1"
	timeout 20 "$GTLS" -q --exit-on-all-streams-close --groups="$2" --download="$1" \
		127.0.0.1 $PORT "https://localhost:$PORT/" >"$1.log" 2>&1 && [[ -s $1/index.html ]]
}
# GET /status lists each vhost's groups and pq as the generation in force has them
status_groups() { curl -sf $ADMIN/status | python3 -c 'import json,sys; print(";".join("%s=%s/%s" % (v["name"], v["groups"], v["pq"]) for v in json.load(sys.stdin)["vhosts"]))'; }
[[ $(status_groups) == "localhost=X25519/prefer" ]] || fail "/status vhosts: '$(status_groups)'"
[[ $(g X25519) == 0 ]] || fail "X25519 counted before any handshake"
gtls x1 "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP384R1" || { tail -5 x1.log >&2; fail "x1: no answer with groups = X25519"; }
[[ $(g X25519) == 1 ]] || { curl -s $ADMIN/metrics | grep tls_handshakes >&2; fail "X25519 not counted"; }
[[ $(g secp384r1) == 0 ]] || fail "secp384r1 counted with groups = X25519"
gtls p1 "-GROUP-ALL:+GROUP-SECP384R1" && fail "p1: a secp384r1-only client completed with groups = X25519"
# reload: secp384r1 only
gen() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["config_generation"] if all(x == s["config_generation"] for x in s["worker_generations"]) else -1)'; }
gen_is() { [[ $(gen) == "$1" ]]; }
reload() { # WANT_GENERATION
	code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
	[[ $code == 200 ]] || { cat body >&2; fail "reload: HTTP $code"; }
	wait_for 5 gen_is "$1" || fail "workers not on generation $1"
}
g0=$(gen)
conf "groups = secp384r1"
reload $((g0 + 1))
[[ $(status_groups) == "localhost=secp384r1/prefer" ]] || fail "/status after the reload: '$(status_groups)'"
gtls p2 "-GROUP-ALL:+GROUP-SECP384R1" || { tail -5 p2.log >&2; fail "p2: secp384r1 client refused after the reload"; }
[[ $(g secp384r1) == 1 ]] || { curl -s $ADMIN/metrics | grep tls_handshakes >&2; fail "secp384r1 not counted after the reload"; }
gtls x2 "-GROUP-ALL:+GROUP-X25519" && fail "x2: an X25519-only client completed after the reload to secp384r1"
# a [vhost] override beats [tls]
conf "groups = secp384r1" "groups = X25519"
reload $((g0 + 2))
[[ $(status_groups) == "localhost=X25519/prefer" ]] || fail "/status with the [vhost] override: '$(status_groups)'"
gtls x3 "-GROUP-ALL:+GROUP-X25519" || { tail -5 x3.log >&2; fail "x3: [vhost] groups = X25519 not used"; }
[[ $(g X25519) == 2 ]] || fail "X25519 not counted under the [vhost] override"
# a reload the build cannot do is refused, the old list stays
if ((!PQ)); then
	conf "groups = X25519MLKEM768"
	code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
	[[ $code != 200 ]] || fail "a reload to X25519MLKEM768 was accepted on the gnutls build"
	grep -q "rg.ini:7: \[tls\] groups = X25519MLKEM768: X25519MLKEM768 needs" body rg.log ||
		{ cat body >&2; fail "the refused reload does not say FILE:LINE and why"; }
	gtls x4 "-GROUP-ALL:+GROUP-X25519" || fail "x4: the running list changed after a refused reload"
fi
note "handshakes by group: X25519 $(g X25519), secp384r1 $(g secp384r1)"
rg_stop "$RG_PID" rg.log ringgate
echo "PASS"
