#!/usr/bin/env bash
# Runs inside the Debian 13 root (tools/debian13.sh --quic-tests, from
# tools/test.sh): builds ringgate with the OpenSSL backend (-Dtls=openssl,
# -Dwerror=true) and runs the unit and tools tests and the tunnel, QUIC, TLS, HTTPS, proxy
# and control integration tests (Chromium's are not: the root has no
# browser). Results in build/d13o/meson-logs/testlog.json for test.sh's
# count.
set -uo pipefail
cd "$(dirname "$0")/.."
b=build/d13o
mkdir -p build # a fresh root has none: the logs below go there
re=()
[[ -f $b/build.ninja ]] && re=(--reconfigure)
meson setup "${re[@]}" "$b" -Dtls=openssl -Dwerror=true -Dbuildtype=debug >"$b.setup.log" 2>&1 ||
	{ tail -30 "$b.setup.log"; exit 1; }
grep -q "TLS backend: openssl" "$b.setup.log" || { echo "d13: the OpenSSL backend was not chosen"; exit 1; }
nice meson compile -C "$b" -j 2 >"$b.compile.log" 2>&1 || { grep -B2 -A6 'error:' "$b.compile.log" | tail -50; exit 1; }
"$b/control/ringgate" --version
# every unit test and the integration tests of the tunnel (against trixie's
# wireguard-go and wg, TUN in namespaces), QUIC, TLS, HTTPS (TCP:
# curl, h2load, nghttp, s_client; mTLS on both transports; https_pq_tcp,
# issue 20 §4), the proxy and the control plane (reload swapping
# certificates, the demo, /metrics through promtool), but the Chromium
# ones: the root has no browser (tools/test.sh's suite d13host runs the
# host's against this build), and interface_keys, which compares the INI
# schema with ../shared/design/INTERFACE.md: text beside the checkout, not
# in the root, and the same on every platform (the host runs it). Names
# only: meson test intersects --suite with names.
mapfile -t tests < <(meson test -C "$b" --list --suite unit --suite quic --suite tls --suite https \
	--suite proxy --suite control --suite ini --suite tunnel --suite tools 2>/dev/null | sed 's/.* \/ //' |
	grep -v -e chromium -e '^interface_keys$')
# quic_pq (issue 20: trixie's curl gets X25519MLKEM768 over HTTP/3) is
# registered on this build only: it must be among them
printf '%s\n' "${tests[@]}" | grep -qx quic_pq || { echo "d13: quic_pq not registered on the OpenSSL build"; exit 1; }
# and the ones this build must pass (issue 20: HTTPS, mTLS on QUIC too; the
# tunnel against trixie's wireguard-go; the installed unit)
for t in https_pq_tcp https_curl https_curl_epoll https_ops https_iface https_mtls reload proxy_integration \
	tunnel_wireguard_go tunnel_tun_rg2rg install unit_caps; do
	printf '%s\n' "${tests[@]}" | grep -qx "$t" || { echo "d13: $t not among the tests run"; exit 1; }
done
meson test -C "$b" --print-errorlogs --num-processes 2 "${tests[@]}"
