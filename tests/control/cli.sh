#!/usr/bin/env bash
# The command line of ringgate: flags, exit codes (INTERFACE.md: 0 clean,
# 1 bad configuration or arguments, 2 runtime failure at start) and
# --validate with FILE:LINE messages.
. "$(dirname "$0")/../lib.sh"
RG=$(realpath "$1")

"$RG" --version | grep -q '^ringgate [0-9]' || fail "--version"
"$RG" -V >/dev/null || fail "-V"
"$RG" --help | grep -q -- '--validate' || fail "--help lists --validate"

expect_rc() { # rc message command...
	local want=$1 what=$2; shift 2
	"$@" >"$RG_TMP/out" 2>"$RG_TMP/err"
	local rc=$?
	[[ $rc -eq $want ]] || { cat "$RG_TMP/err" >&2; fail "$what: exit $rc, want $want"; }
}
expect_rc 1 "unknown flag" "$RG" --no-such-flag
expect_rc 1 "--workers 0" "$RG" --workers 0
expect_rc 1 "--workers abc" "$RG" --workers abc
expect_rc 1 "--log-level loud" "$RG" --log-level loud
expect_rc 1 "stray argument" "$RG" extra
expect_rc 1 "--demo with --config" "$RG" --demo -c /dev/null
grep -q "exclude" "$RG_TMP/err" || fail "--demo with --config: no reason given"

# A missing file is a configuration error (1), named in one line.
expect_rc 1 "missing config" "$RG" -c "$RG_TMP/nope.ini"
grep -q "nope.ini" "$RG_TMP/err" || fail "missing config: the file is not named"
expect_rc 1 "--validate missing config" "$RG" --validate -c "$RG_TMP/nope.ini"

# A valid file.
cat >"$RG_TMP/good.ini" <<'INI'
[appliance]
workers = 1
admin = 127.0.0.1:18082
INI
expect_rc 0 "--validate good" "$RG" --validate -c "$RG_TMP/good.ini"
expect_rc 0 "--validate --demo" "$RG" --validate --demo

# Every error of a bad file, each as FILE:LINE: message, in one pass.
cat >"$RG_TMP/bad.ini" <<'INI'
[appliance]
workers = lots
admin = 127.0.0.1:18082
colour = blue

[no_such_section]
x = 1
INI
expect_rc 1 "--validate bad" "$RG" --validate -c "$RG_TMP/bad.ini"
grep -q "^$RG_TMP/bad.ini:2: " "$RG_TMP/err" || { cat "$RG_TMP/err" >&2; fail "no FILE:2: message for workers"; }
grep -q "^$RG_TMP/bad.ini:4: " "$RG_TMP/err" || { cat "$RG_TMP/err" >&2; fail "no FILE:4: message for the unknown key"; }
grep -q "^$RG_TMP/bad.ini:6: " "$RG_TMP/err" || { cat "$RG_TMP/err" >&2; fail "no FILE:6: message for the unknown section"; }
# Starting on it is refused the same way.
expect_rc 1 "start on bad config" "$RG" -c "$RG_TMP/bad.ini"
echo "cli: ok"
