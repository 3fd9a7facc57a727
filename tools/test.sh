#!/usr/bin/env bash
# README quick start, command 2: install what is missing, build with ASan and
# UBSan, run the whole suite (unit, integration in network namespaces against
# real peers, fuzz smoke runs with clang's libFuzzer), and end with one line
# "N passed, N failed, N skipped".
#
# Every build here passes -Dwerror=true: a user's `meson setup` does not
# (werror is off by default so that a newer compiler's new warning cannot
# stop their build), CI does, so the warnings are seen here first. Besides
# the suite's ASan and fuzz builds, gcc and clang each compile (no tests
# run) release, debugoptimized and release with LTO; a build that fails
# counts as a failure in the last line.
#
# Environment: RINGGATE_TEST_ARGS adds arguments to `meson test` (e.g. a
# --suite); RINGGATE_NO_FUZZ=1 skips the libFuzzer build;
# RINGGATE_NO_MATRIX=1 skips the compile-only builds.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

bash tools/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
logs=()
run_build() { # dir, meson setup args...
	local dir=$1; shift
	mkdir -p "$(dirname "$dir")"
	local re=()
	[[ -f $dir/build.ninja ]] && re=(--reconfigure)
	meson setup "${re[@]}" "$dir" "$@" >"$dir.setup.log" 2>&1 || { tail -30 "$dir.setup.log"; return 1; }
	# -j2: the machine has two cores. -k0: one run shows every warning
	# that -Dwerror=true turned into an error, not only the first.
	meson compile -C "$dir" -j 2 --ninja-args=-k0 >"$dir.compile.log" 2>&1 ||
		{ grep -q 'error:' "$dir.compile.log" && grep -B2 -A6 'error:' "$dir.compile.log" | tail -50 || tail -50 "$dir.compile.log"; return 1; }
}

# The main suite under ASan + UBSan.
if run_build build/asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined; then
	# (suite d13host waits for the Debian 13 block below)
	# shellcheck disable=SC2086
	meson test -C build/asan --print-errorlogs --num-processes 2 --no-suite d13host ${RINGGATE_TEST_ARGS:-} || status=1
	logs+=(build/asan/meson-logs/testlog.json)
else
	echo "build (asan) failed"
	status=1
	build_failed=1
fi

# Debian 13 root (issue 20): the OpenSSL >= 3.5 backend (-Dtls=openssl,
# post-quantum groups) built and its unit + QUIC tests run there (and the
# tunnel, TLS, HTTPS, proxy, control and tools tests: tools/d13-ci.sh). The root
# is made once (~2 min) and reused; Debian 12's gtlsclient is copied in
# (trixie's ngtcp2-client cannot sit beside the backports' libngtcp2).
# RINGGATE_NO_DEBIAN13=1 skips it.
if [[ -z ${RINGGATE_NO_DEBIAN13:-} ]]; then
	d13root=${RINGGATE_DEBIAN13_ROOT:-/var/tmp/ringgate-debian13}
	t0=$SECONDS
	if bash tools/debian13.sh --quic-tests --setup-only >build/d13.log 2>&1 &&
		{ g=$(command -v gtlsclient) && cp -f "$g" "$d13root/usr/local/bin/gtlsclient"; } &&
		bash tools/debian13.sh --quic-tests bash tools/d13-ci.sh >>build/d13.log 2>&1; then
		echo "debian13 (openssl backend): ok in $((SECONDS - t0)) s"
	else
		echo "debian13 (openssl backend): FAILED after $((SECONDS - t0)) s (build/d13.log)"
		tail -30 build/d13.log
		status=1
	fi
	[[ -f $d13root/src/build/d13o/meson-logs/testlog.json ]] &&
		cp "$d13root/src/build/d13o/meson-logs/testlog.json" build/d13-testlog.json &&
		logs+=(build/d13-testlog.json)
	# the host's Chromium against the root's OpenSSL build (issue 20 §4:
	# X25519MLKEM768 on h2 and h3); it skips when that build is absent
	if [[ -z ${build_failed:-} ]]; then
		RINGGATE_DEBIAN13_ROOT=$d13root meson test -C build/asan --suite d13host --print-errorlogs \
			--num-processes 1 --logbase d13host || status=1
		logs+=(build/asan/meson-logs/d13host.json)
	fi
fi

# libFuzzer targets, built with clang and run for a bounded time each.
if [[ -z ${RINGGATE_NO_FUZZ:-} ]]; then
	if CC=clang run_build build/fuzz -Dwerror=true -Dbuildtype=debug -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false; then
		meson test -C build/fuzz --suite fuzz --print-errorlogs --num-processes 2 || status=1
		logs+=(build/fuzz/meson-logs/testlog.json)
	else
		echo "build (fuzz) failed"
		status=1
		build_failed=$(( ${build_failed:-0} + 1 ))
	fi
fi

# Compile-only builds: two compilers, three optimised build types.
if [[ -z ${RINGGATE_NO_MATRIX:-} ]]; then
	for cc in gcc clang; do
		for bt in release debugoptimized release-lto; do
			args=(-Dwerror=true -Dbuildtype="${bt%-lto}")
			[[ $bt == *-lto ]] && args+=(-Db_lto=true)
			t0=$SECONDS
			if CC=$cc run_build "build/ci-$cc-$bt" "${args[@]}"; then
				echo "build $cc $bt (werror): ok in $((SECONDS - t0)) s"
			else
				echo "build $cc $bt (werror): FAILED after $((SECONDS - t0)) s (build/ci-$cc-$bt.compile.log)"
				status=1
				build_failed=$(( ${build_failed:-0} + 1 ))
			fi
		done
	done
fi

python3 - "${build_failed:-0}" "${logs[@]}" <<'PY'
import json, sys
failed_builds = int(sys.argv[1])
passed = failed = skipped = 0
for path in sys.argv[2:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed + failed_builds} failed, {skipped} skipped")
PY
exit $status
