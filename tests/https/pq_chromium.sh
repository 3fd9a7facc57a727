#!/usr/bin/env bash
# Issue 20 §4: a browser gets the hybrid X25519MLKEM768 from ringgate on
# both transports. The host's headless Chromium (Debian 12 has no OpenSSL
# 3.5, so the host's gnutls build of ringgate cannot offer it) talks to the
# ringgate built with -Dtls=openssl in the Debian 13 root (tools/debian13.sh,
# tools/d13-ci.sh: ROOT/src/build/d13o). Both meet on loopback in one
# network namespace holding nothing else: ringgate runs there through
# chroot, in a private mount namespace with the host's /proc, /dev, /sys
# bound in (as debian13.sh does). Chromium trusts the test CA through an
# NSS database in its HOME (../shared/design/PEERS.md "Chromium").
#  - navigation 1, TCP (HTTP/2): the net log's SSL_CONNECT gives
#    key_exchange_group 4588 (X25519MLKEM768; 29 would be X25519);
#  - navigation 2, QUIC forced on the origin (HTTP/3): the net log has no
#    such field there, so the ServerHello (in clear in the first CRYPTO
#    frame at ENCRYPTION_INITIAL) is parsed: its key_share names 0x11ec;
#  - ringgate counted both: ringgate_tls_handshakes_total{proto="tcp"|"quic",
#    group="X25519MLKEM768"}.
# Skips (77) when the root or its OpenSSL build is absent: tools/test.sh
# runs it after its Debian 13 block built ROOT/src/build/d13o. By hand:
#   bash tools/debian13.sh --quic-tests bash tools/d13-ci.sh   # once
#   bash tests/https/pq_chromium.sh
# ROOT is $RINGGATE_DEBIAN13_ROOT, by default /var/tmp/ringgate-debian13.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/chromium_lib.sh"
d13_root # ROOT, RGR (skips without them)
in_private_netns "$@"
CHROMIUM=$(command -v chromium) || fail "chromium not installed: tools/setup.sh installs it"
command -v certutil >/dev/null || fail "certutil missing: tools/setup.sh installs libnss3-tools"
d13_root_tmp # the root locked; RT (RTI inside) for ringgate's files
(inroot "$RGR" --version) >"$RG_TMP/version" 2>&1 || { cat "$RG_TMP/version" >&2; fail "the root's ringgate does not run"; }
grep -q "post-quantum groups available" "$RG_TMP/version" ||
	skip "the root's ringgate has no post-quantum groups: $(tail -1 "$RG_TMP/version")"
T=$RG_TMP

# a CA and a leaf for localhost signed by it (the leaf in the root, for
# ringgate), trusted in Chromium's NSS db
chromium_ca "$T" "$RT"
chmod 600 "$RT/key.pem"

mkdir -p "$T/www"
echo '<html><body><p>served with a hybrid key exchange</p></body></html>' >"$T/www/index.html"
python3 -m http.server 8091 --bind 127.0.0.1 --directory "$T/www" >"$T/backend.log" 2>&1 &
RG_PIDS+=($!)
wait_for 10 curl -sf http://127.0.0.1:8091/ -o /dev/null || fail "backend did not start"

chromium_site_ini "$RTI" >"$RT/rg.ini"
(inroot "$RGR" -c "$RTI/rg.ini") 2>"$T/rg.log" &
RG_PID=$!
RG_PIDS+=("$RG_PID")
wait_for 20 curl -sf --cacert "$T/ca.pem" https://localhost:8443/ -o /dev/null ||
	{ cat "$T/rg.log" >&2; fail "the root's ringgate does not serve HTTPS on 8443"; }
g() { metric_sum http://127.0.0.1:8082/metrics "^ringgate_tls_handshakes_total\\{.*proto=\"$1\",group=\"X25519MLKEM768\"\\}"; }
tcp0=$(g tcp) quic0=$(g quic)

# nav NAME FORCE_QUIC_ORIGIN: one navigation to https://localhost:8443/
nav() {
	chromium_get "$T/$1.json" "$T/$1.dom" "$2" https://localhost:8443/ --net-log-capture-mode=Everything
	grep -q "served with a hybrid key exchange" "$T/$1.dom" || { head -c 600 "$T/$1.dom" >&2; fail "$1: page text missing"; }
}
# TCP: QUIC forced only on an unused port (which lets Chromium's QUIC accept
# the NSS root, PEERS.md); no Alt-Svc was seen yet in the fresh profile
nav tcp localhost:1
nav quic localhost:8443

python3 - "$T/tcp.json" "$T/quic.json" <<'PY' || fail "Chromium's net log does not show X25519MLKEM768 (4588) on TCP and QUIC"
import base64, json, sys
def load(p):
    text = open(p).read()
    if not text.rstrip().endswith("}"):
        text = text.rstrip().rstrip(",") + "]}"   # a net log cut by the timeout
    log = json.loads(text)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [(names.get(e["type"], "?"), e) for e in log["events"]]
ok = True
# TCP: SSL_CONNECT's end gives the group and the ALPN
ev = load(sys.argv[1])
tcp = [e.get("params", {}) for n, e in ev if n == "SSL_CONNECT" and "key_exchange_group" in e.get("params", {})]
protos = {e["params"].get("next_proto") for n, e in ev if n == "SSL_CONNECT" and "params" in e} - {None}
h2 = any(n == "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS" for n, _ in ev)
print("TCP: key_exchange_group", [p["key_exchange_group"] for p in tcp], "ALPN", protos, "h2 request", h2)
ok &= bool(tcp) and all(p["key_exchange_group"] == 4588 for p in tcp) and h2
# QUIC: the ServerHello's key_share (RFC 8446 4.1.3, 4.2.8)
ev = load(sys.argv[2])
h3 = any(n == "HTTP_TRANSACTION_QUIC_SEND_REQUEST_HEADERS" for n, _ in ev)
groups = []
for n, e in ev:
    p = e.get("params", {})
    if n != "QUIC_SESSION_CRYPTO_FRAME_RECEIVED" or p.get("encryption_level") != "ENCRYPTION_INITIAL" or "bytes" not in p:
        continue
    b = base64.b64decode(p["bytes"])
    if p.get("offset", 0) != 0 or len(b) < 4 or b[0] != 2:
        continue  # not the start of a ServerHello
    i = 4 + 2 + 32          # type, length, legacy_version, random
    i += 1 + b[i]           # legacy_session_id_echo
    i += 2 + 1              # cipher_suite, legacy_compression_method
    end = i + 2 + int.from_bytes(b[i:i + 2], "big")
    i += 2
    while i + 4 <= min(end, len(b)):
        t, l = int.from_bytes(b[i:i + 2], "big"), int.from_bytes(b[i + 2:i + 4], "big")
        if t == 0x0033:
            groups.append(int.from_bytes(b[i + 4:i + 6], "big"))
        i += 4 + l
    break
print("QUIC: ServerHello key_share group", groups, "h3 request", h3)
ok &= groups == [4588] and h3
sys.exit(0 if ok else 1)
PY
sleep 0.3
(($(g tcp) > tcp0 && $(g quic) > quic0)) ||
	{ curl -s http://127.0.0.1:8082/metrics | grep tls_handshakes >&2; fail "ringgate did not count X25519MLKEM768 on tcp and quic"; }
note "ringgate (OpenSSL, Debian 13 root): X25519MLKEM768 handshakes tcp $(g tcp), quic $(g quic)"
rg_stop "$RG_PID" "$T/rg.log" ringgate
echo "pq_chromium: ok"
