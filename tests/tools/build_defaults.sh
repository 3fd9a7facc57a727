#!/usr/bin/env bash
# A user's plain `meson setup` must not turn warnings into errors: a newer
# compiler's new warning would stop the build (issue 15: gcc 12 and
# -Wmaybe-uninitialized at release). CI asks for -Dwerror=true itself
# (tools/test.sh).
# Usage: build_defaults.sh SOURCE_DIR
. "$(dirname "$0")/../lib.sh"
SRC=$(realpath "$1")
v=$(meson introspect --buildoptions "$SRC/meson.build" 2>/dev/null |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "werror"][0])') ||
	fail "meson introspect --buildoptions"
note "default werror: $v"
[[ $v == False ]] || fail "werror defaults to $v: a user's meson setup fails on any new compiler warning"
grep -q -- '-Dwerror=true' "$SRC/tools/test.sh" || fail "CI (tools/test.sh) does not build with -Dwerror=true"
echo "build_defaults: ok"
