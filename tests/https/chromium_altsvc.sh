#!/usr/bin/env bash
# Headless Chromium visits a site behind ringgate the way a browser's first
# visit does (issue 9 §4): the first navigation goes over TCP (HTTP/2 on
# [https]), the response's Alt-Svc names HTTP/3 on the same port, and the
# second navigation to the same origin goes over HTTP/3 ([quic]). QUIC is
# not forced for the origin under test: the certificate comes from a test
# CA trusted through an NSS database in Chromium's HOME, and
# --origin-to-force-quic-on names an unused port only so that Chromium's
# QUIC accepts that root for the name (see ../shared/design/PEERS.md).
# Chromium runs in a namespace holding nothing but loopback.
# usage: chromium_altsvc.sh RINGGATE | d13
# d13: the OpenSSL build of the Debian 13 root (issue 20), run from the
# host for its Chromium as pq_chromium.sh does; skips when it is absent.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/chromium_lib.sh"
[[ $1 == d13 ]] && d13_root
in_private_netns "$@"
CHROMIUM=$(command -v chromium) || fail "chromium not installed: tools/setup.sh installs it"
command -v certutil >/dev/null || fail "certutil missing: tools/setup.sh installs libnss3-tools"
T=$RG_TMP
if [[ $1 == d13 ]]; then
	d13_root_tmp
	RG=(inroot "$RGR") K=$RT KI=$RTI # ringgate's files in the root (KI: seen from inside)
else
	RG=("$(realpath "$1")") K=$T KI=$T
fi

# a CA and a leaf for localhost signed by it, trusted in Chromium's NSS db
chromium_ca "$T" "$K"

# The backend: page one holds a slow image (1.5 s), so that the QUIC
# connection Chromium opens after the first response's Alt-Svc is confirmed
# before the page's load event navigates to page two. Without it the second
# navigation races the QUIC handshake and takes the HTTP/2 connection that
# is already there (Chromium's virtual time makes the page's timers fire at
# once).
mkdir -p "$T/www"
cat >"$T/www/index.html" <<'HTML'
<html><body><p>first page</p><img src="/slow.png">
<script>window.onload = function () { location.href = "/second.html"; };</script></body></html>
HTML
echo '<html><body><p>second page over the same origin</p></body></html>' >"$T/www/second.html"
cat >"$T/backend.py" <<'PY'
import functools, http.server, sys, time
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow.png":
            time.sleep(1.5)
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
            return
        super().do_GET()
http.server.ThreadingHTTPServer(("127.0.0.1", 8091),
    functools.partial(H, directory=sys.argv[1])).serve_forever()
PY
python3 "$T/backend.py" "$T/www" >"$T/backend.log" 2>&1 &
RG_PIDS+=($!)
wait_for 10 curl -sf http://127.0.0.1:8091/second.html || fail "backend did not start"

chromium_site_ini "$KI" >"$K/rg.ini"
if [[ $1 == d13 ]]; then
	chmod 600 "$K/key.pem"
	note "ringgate of the Debian 13 root: $( ("${RG[@]}" --version) 2>&1 | tail -1)"
fi
("${RG[@]}" -c "$KI/rg.ini") 2>"$T/rg.log" &
RG_PID=$!
RG_PIDS+=("$RG_PID")
wait_for 20 curl -sf --cacert "$T/ca.pem" https://localhost:8443/second.html ||
	{ cat "$T/rg.log" >&2; fail "ringgate does not serve HTTPS on 8443"; }
curl -sI --cacert "$T/ca.pem" https://localhost:8443/ | grep -qi '^alt-svc: h3=":8443"' ||
	fail "no Alt-Svc h3 on the TCP response"

chromium_get "$T/net.json" "$T/dom" localhost:1 https://localhost:8443/ --virtual-time-budget=20000
grep -q "second page over the same origin" "$T/dom" || { head -c 600 "$T/dom" >&2; fail "the second navigation did not happen"; }

# Which protocol carried each URL: the net log's URL_REQUEST_START_JOB gives
# the URL of a source id, the HTTP_TRANSACTION_*_SEND_REQUEST_HEADERS event
# of the same id the protocol.
python3 - "$T/net.json" <<'PY' || fail "the net log does not show / over HTTP/2 then /second.html over HTTP/3"
import json, sys
text = open(sys.argv[1]).read()
if not text.rstrip().endswith("}"):
    text = text.rstrip().rstrip(",") + "]}"   # a net log cut by the timeout
log = json.loads(text)
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
url, proto = {}, {}
for e in log["events"]:
    n = names.get(e["type"], "?")
    sid = e.get("source", {}).get("id")
    if n == "URL_REQUEST_START_JOB" and "url" in e.get("params", {}):
        url.setdefault(sid, e["params"]["url"])
    elif n == "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS":
        proto.setdefault(sid, "h2")
    elif n == "HTTP_TRANSACTION_QUIC_SEND_REQUEST_HEADERS":
        proto.setdefault(sid, "h3")
    elif n == "HTTP_TRANSACTION_SEND_REQUEST_HEADERS":
        proto.setdefault(sid, "http/1.1")
seen = {url[s]: p for s, p in proto.items() if s in url and "localhost:8443" in url[s]}
print("net log:", seen)
first = seen.get("https://localhost:8443/")
second = seen.get("https://localhost:8443/second.html")
sys.exit(0 if first == "h2" and second == "h3" else 1)
PY

rg_stop "$RG_PID" "$T/rg.log"
echo "chromium_altsvc: ok"
