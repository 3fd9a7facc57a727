#!/usr/bin/env bash
# Runs inside the Debian 13 root (tools/debian13.sh --quic-tests, from
# tools/test.sh): builds ringgate with the OpenSSL backend (-Dtls=openssl,
# -Dwerror=true) and runs the unit tests and the QUIC integration tests
# (Chromium's is not: the root has no browser). Results in
# build/d13o/meson-logs/testlog.json for test.sh's count.
set -uo pipefail
cd "$(dirname "$0")/.."
b=build/d13o
re=()
[[ -f $b/build.ninja ]] && re=(--reconfigure)
meson setup "${re[@]}" "$b" -Dtls=openssl -Dwerror=true -Dbuildtype=debug >"$b.setup.log" 2>&1 ||
	{ mkdir -p build; tail -30 "$b.setup.log"; exit 1; }
grep -q "TLS backend: openssl" "$b.setup.log" || { echo "d13: the OpenSSL backend was not chosen"; exit 1; }
nice meson compile -C "$b" -j 2 >"$b.compile.log" 2>&1 || { grep -B2 -A6 'error:' "$b.compile.log" | tail -50; exit 1; }
"$b/control/ringgate" --version
# the QUIC integration tests but chromium, with every unit test
# (names only: meson test intersects --suite with names)
mapfile -t tests < <(meson test -C "$b" --list --suite unit --suite quic --suite tls 2>/dev/null | sed 's/.* \/ //' |
	grep -vx chromium)
meson test -C "$b" --print-errorlogs --num-processes 2 "${tests[@]}"
