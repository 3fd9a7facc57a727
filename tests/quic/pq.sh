#!/bin/bash
# Issue 20 on the OpenSSL >= 3.5 build (registered only there: the Debian
# 13 root of CI, tools/d13-ci.sh): a client nobody here wrote, trixie's curl
# (OpenSSL 3.5, HTTP/3 through ngtcp2), fetches over HTTP/3 from ringgate
# (2 workers) and the key exchange follows [tls]:
#  - default (no [tls]): curl offers X25519MLKEM768 first; the handshake
#    completes and ringgate_tls_handshakes_total{group="X25519MLKEM768"}
#    moves. The hybrid key share (1216 bytes) makes curl's ClientHello
#    larger than one Initial packet: ringgate's qlog shows the ClientHello
#    arriving in two or more Initial packets, and, before the client's first
#    Handshake packet validated its address, ringgate sent at most 3x the
#    bytes it received (RFC 9000 8.1).
#  - curl --curves X25519 under pq = prefer: served in X25519.
#  - pq = off (reload): the default curl gets X25519.
#  - pq = require (reload): curl --curves X25519 is refused and
#    ringgate_tls_pq_refused_total moves; the default curl still gets the
#    hybrid.
# Args: ringgate
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
RG=$(realpath "$1")
ADMIN=http://127.0.0.1:8082
"$RG" --version | grep -q "post-quantum groups available" || fail "not a PQ build: $("$RG" --version | tail -1)"
curl -V | grep -q "HTTP3" || fail "this curl has no HTTP/3 (trixie's has: curl -V lists HTTP3)"
make_cert "$RG_TMP" localhost
cd "$RG_TMP" || fail "tmp"
chmod 600 localhost.key
mkdir -p qlog
conf() { # [tls] LINES
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082
[quic]
listen = 127.0.0.1:$PORT
qlog_dir = $RG_TMP/qlog
[tls]
${1:-}
$(rg_site_ini)
INI
}
conf ""
rg_site_backend
rg_start
g() { sleep 0.3; metric_sum $ADMIN/metrics "^ringgate_tls_handshakes_total\\{.*proto=\"quic\",group=\"$1\"\\}"; }
refused() { sleep 0.3; metric_sum $ADMIN/metrics "^ringgate_tls_pq_refused_total"; }
# h3 NAME CURL_ARGS...: one HTTP/3 GET of /; 0 when answered 200
h3() {
	local name=$1; shift
	timeout 20 curl -s --http3-only --cacert localhost.crt --connect-to localhost:$PORT:127.0.0.1:$PORT \
		-o "$name.body" -w '%{http_code}' "$@" "https://localhost:$PORT/" >"$name.code" 2>"$name.err"
	[[ $(cat "$name.code") == 200 && $(cat "$name.body") == "rg /" ]]
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

# ---- default: hybrid ----
h3 hyb || { cat hyb.err >&2; fail "curl over HTTP/3 (default groups): HTTP $(cat hyb.code)"; }
[[ $(g X25519MLKEM768) == 1 ]] || { curl -s $ADMIN/metrics | grep tls_handshakes >&2; fail "X25519MLKEM768 not counted"; }
# the multi-packet Initial and the anti-amplification limit, from the qlog
python3 - qlog <<'PY' || fail "qlog: multi-packet Initial or amplification limit"
import json, os, sys
d = sys.argv[1]
files = [f for f in os.listdir(d) if f.endswith(".sqlog")]
assert len(files) == 1, files
recs = [json.loads(r) for r in open(os.path.join(d, files[0]), "rb").read().split(b"\x1e") if r.strip()]
rx = tx = 0
ch_packets = 0
for r in recs[1:]:
    n, dt = r.get("name"), r.get("data", {})
    if n not in ("transport:packet_received", "transport:packet_sent"):
        continue
    ptype = dt["header"]["packet_type"]
    if n == "transport:packet_received" and ptype == "handshake":
        break  # RFC 9000 8.1: the client's Handshake packet validates its address
    size = dt["raw"]["length"]
    if n == "transport:packet_received":
        rx += size
        if ptype == "initial" and any(f["frame_type"] == "crypto" for f in dt.get("frames", [])):
            ch_packets += 1
    else:
        tx += size
print("before address validation: received %d bytes, sent %d (%.2fx); ClientHello in %d Initial packets"
      % (rx, tx, tx / max(rx, 1), ch_packets), file=sys.stderr)
assert ch_packets >= 2, "the hybrid ClientHello fit one Initial packet?"
assert tx <= 3 * rx, "sent more than 3x what was received"
PY
note "default groups: X25519MLKEM768 over HTTP/3"
# ---- a classical client under pq = prefer ----
h3 cls --curves X25519 || { cat cls.err >&2; fail "curl --curves X25519 refused under pq = prefer"; }
[[ $(g X25519) == 1 ]] || fail "X25519 not counted for curl --curves X25519"
# ---- pq = off ----
reload "pq = off"
h3 off || { cat off.err >&2; fail "curl refused under pq = off"; }
[[ $(g X25519) == 2 && $(g X25519MLKEM768) == 1 ]] || fail "pq = off: not X25519 ($(g X25519), hybrid $(g X25519MLKEM768))"
# ---- pq = require ----
reload "pq = require"
r0=$(refused)
h3 req --curves X25519 && fail "curl --curves X25519 served under pq = require"
(($(refused) > r0)) || { curl -s $ADMIN/metrics | grep pq_refused >&2; fail "tls_pq_refused_total did not move"; }
grep -Eq 'tls: QUIC handshake from (127\.0\.0\.1|\[::1\]):[0-9]+ refused: pq = require' rg.log ||
	{ tail -20 rg.log >&2; fail "the pq = require refusal was not logged with the client's address"; }
h3 req2 || { cat req2.err >&2; fail "curl (hybrid) refused under pq = require"; }
[[ $(g X25519MLKEM768) == 2 ]] || fail "pq = require: the hybrid not counted"
note "hybrid $(g X25519MLKEM768), X25519 $(g X25519), refused by pq = require $(refused)"
rg_stop "$RG_PID" rg.log ringgate
echo "PASS"
