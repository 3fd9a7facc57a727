#!/usr/bin/env bash
# A user's plain `meson setup` must not turn warnings into errors: a newer
# compiler's new warning would stop the build (issue 15: gcc 12 and
# -Wmaybe-uninitialized at release). CI asks for -Dwerror=true itself
# (tools/test.sh).
# Usage: build_defaults.sh SOURCE_DIR
. "$(dirname "$0")/../lib.sh"
SRC=$(realpath "$1")
read -r v etc < <(meson introspect --buildoptions "$SRC/meson.build" 2>/dev/null |
	python3 -c 'import json,sys; o = {x["name"]: x["value"] for x in json.load(sys.stdin)}; print(o["werror"], o["sysconfdir"])') ||
	fail "meson introspect --buildoptions"
note "default werror: $v, sysconfdir: $etc"
[[ $v == False ]] || fail "werror defaults to $v: a user's meson setup fails on any new compiler warning"
# ringgate reads /etc/ringgate/ringgate.ini and ringgatectl
# /etc/ringgate/admin.token by default: install the example config there.
[[ $etc == /etc ]] || fail "sysconfdir defaults to $etc, not /etc where the programs look"
grep -q -- '-Dwerror=true' "$SRC/tools/test.sh" || fail "CI (tools/test.sh) does not build with -Dwerror=true"
echo "build_defaults: ok"
