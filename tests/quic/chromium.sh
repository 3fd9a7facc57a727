#!/usr/bin/env bash
# Headless Chromium loads pages from `ringgate --demo` over HTTP/3 (the
# demo's HTTP/3 listener in front of its built-in backend). Chromium runs in
# a network namespace holding nothing but loopback: even with background
# networking off it sends DNS queries otherwise. Its net log proves the
# protocol (a QUIC session with HTTP/3 streams, in QUIC version 1 although
# ringgate prefers v2: issue 18), the page text proves the
# content, and ringgate's /metrics prove the server side counted it.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1")
CHROMIUM=$(command -v chromium) || fail "chromium not installed: tools/setup.sh installs it"

"$RG" --demo --workers 2 2>"$RG_TMP/rg.log" &
RG_PIDS+=($!)
wait_for 20 curl -sf http://127.0.0.1:8082/health || { cat "$RG_TMP/rg.log" >&2; fail "no /health"; }
dir=$(sed -n 's/.*demo: files in //p' "$RG_TMP/rg.log")
[[ -f $dir/localhost.pem ]] || fail "no demo certificate"
spki=$(openssl x509 -in "$dir/localhost.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)

# chromium URL OUT: load one page, dump its DOM into OUT, net log beside it
load() {
	local url=$1 out=$2
	rm -rf "$RG_TMP/profile"
	timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$RG_TMP/profile" --enable-quic --origin-to-force-quic-on=localhost:4433 \
		--host-resolver-rules="MAP localhost 127.0.0.1" --ignore-certificate-errors-spki-list="$spki" \
		--log-net-log="$out.netlog" --dump-dom "$url" >"$out" 2>"$out.err" </dev/null
}

load https://localhost:4433/ "$RG_TMP/index" || { tail -5 "$RG_TMP/index.err" >&2; fail "chromium failed on /"; }
grep -q "ringgate demo backend" "$RG_TMP/index" || { head -c 500 "$RG_TMP/index" >&2; fail "page text missing"; }

# the net log: a QUIC session that received packets, HTTP/3 streams on it
python3 - "$RG_TMP/index.netlog" <<'PY' || fail "net log shows no HTTP/3 over QUIC v1"
import json, sys
from collections import Counter
log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
seen = Counter(names.get(e["type"], "?") for e in log["events"])
need = ["QUIC_SESSION", "QUIC_SESSION_PACKET_RECEIVED", "HTTP3_LOCAL_CONTROL_STREAM_CREATED"]
missing = [n for n in need if not seen[n]]
if missing:
    print("missing net log events:", missing, file=sys.stderr)
    sys.exit(1)
print("net log:", {n: seen[n] for n in need})
# Issue 18: ringgate prefers v2 by default ([quic] versions = v2, v1; its
# transport parameters offer 6b3343cf first, RFC 9368 3), and Chromium,
# which speaks only v1 over h3, stays on v1: compatible version
# negotiation must not move a client to a version it did not offer.
ev = lambda n: [e.get("params", {}) for e in log["events"] if names.get(e["type"]) == n]
vers = {p.get("version") for p in ev("QUIC_SESSION_VERSION_NEGOTIATED")}
if vers != {"RFCv1"}:
    print("negotiated QUIC versions", vers, "want only RFCv1", file=sys.stderr)
    sys.exit(1)
tps = [p.get("quic_transport_parameters", "") for p in ev("QUIC_SESSION_TRANSPORT_PARAMETERS_RECEIVED")]
if not tps or not all("chosen_version 00000001 other_versions 6b3343cf," in t for t in tps):
    print("server transport parameters do not show v1 chosen with v2 preferred:", tps, file=sys.stderr)
    sys.exit(1)
print("net log: QUIC version 1 (RFCv1), server offered v2 first")
PY

# the server saw the handshakes and answered the requests
curl -sf http://127.0.0.1:8082/metrics >"$RG_TMP/m" || fail "no /metrics"
awk '$1 ~ /^ringgate_quic_handshakes_total\{.*result="completed"/ { s += $2 } END { exit !(s >= 1) }' "$RG_TMP/m" ||
	{ grep quic_handshakes "$RG_TMP/m" >&2; fail "handshakes not counted"; }
rg_stop "${RG_PIDS[0]}" "$RG_TMP/rg.log"
echo "chromium: ok"
