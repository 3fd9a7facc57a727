#!/usr/bin/env bash
# ringgate --validate and --strict on configuration warnings (issue 15): a
# key parsed but not built yet, or a secret file open to group or others,
# is reported as FILE:LINE: warning: ... and the file still validates (exit
# 0); --strict makes every warning an error (exit 1), at --validate and at
# start. A clean file stays quiet under --strict.
. "$(dirname "$0")/../lib.sh"
RG=$(realpath "$1")
in_private_netns "$@"

"$RG" --help | grep -q -- '--strict' || fail "--help does not list --strict"

expect_rc() { # rc what command...
	local want=$1 what=$2; shift 2
	"$@" >"$RG_TMP/out" 2>"$RG_TMP/err"
	local rc=$?
	[[ $rc -eq $want ]] || { cat "$RG_TMP/out" "$RG_TMP/err" >&2; fail "$what: exit $rc, want $want"; }
}
expect_msg() { # what pattern (grep -E, in stderr)
	grep -qE -- "$2" "$RG_TMP/err" || { cat "$RG_TMP/err" >&2; fail "$1: no line matching '$2'"; }
}

# Load-balancing keys not built yet (lines 5, 6, 7 and 10).
cat >"$RG_TMP/lb.ini" <<'INI'
[appliance]
admin = 127.0.0.1:18082
[backend a]
server = 127.0.0.1:18090
algorithm = ip_hash
health_check = /healthz
health_interval = 2s
[backend b]
server = 127.0.0.1:18091
algorithm = least_response_time
INI
F=$RG_TMP/lb.ini
expect_rc 0 "--validate with warnings" "$RG" --validate -c "$F"
expect_msg "algorithm" "^$F:5: warning: algorithm = ip_hash is not implemented yet: .*weighted_round_robin"
expect_msg "health_check" "^$F:6: warning: health_check = /healthz is not implemented yet"
expect_msg "health_interval" "^$F:7: warning: health_interval is not implemented yet"
expect_msg "algorithm b" "^$F:10: warning: algorithm = least_response_time is not implemented yet"
grep -q "valid, with 4 warnings" "$RG_TMP/out" || { cat "$RG_TMP/out" >&2; fail "stdout does not count 4 warnings"; }
expect_rc 1 "--validate --strict with warnings" "$RG" --validate --strict -c "$F"
expect_msg "strict algorithm" "^$F:5: warning: algorithm = ip_hash"
expect_msg "strict verdict" "--strict: 4 warnings, refused"
# Start-up under --strict refuses before binding anything.
expect_rc 1 "start --strict with warnings" "$RG" --strict -c "$F"
expect_msg "start strict" "^$F:5: warning: algorithm = ip_hash"

# Start-up without --strict runs and logs each warning with FILE:LINE.
"$RG" -c "$F" --workers 1 >"$RG_TMP/run.log" 2>&1 &
pid=$!; RG_PIDS+=("$pid")
wait_for 20 grep -q "ready" "$RG_TMP/run.log" || { cat "$RG_TMP/run.log" >&2; fail "ringgate did not start"; }
grep -q "$F:6: warning: health_check" "$RG_TMP/run.log" || { cat "$RG_TMP/run.log" >&2; fail "start: no warning logged"; }
# A reload logs the warnings of the new file.
sed -i 's/^algorithm = least_response_time/algorithm = random/' "$F"
kill -HUP "$pid"
wait_for 20 grep -q "$F:10: warning: algorithm = random" "$RG_TMP/run.log" ||
	{ cat "$RG_TMP/run.log" >&2; fail "reload: no warning logged"; }
rg_stop "$pid" "$RG_TMP/run.log" "start with warnings"

# Under --strict a reload to a file with warnings is refused.
cp "$F" "$RG_TMP/strict.ini"
sed -i '/^algorithm\|^health_/d' "$RG_TMP/strict.ini"
"$RG" --strict -c "$RG_TMP/strict.ini" --workers 1 >"$RG_TMP/strict.log" 2>&1 &
pid=$!; RG_PIDS+=("$pid")
wait_for 20 grep -q "ready" "$RG_TMP/strict.log" || { cat "$RG_TMP/strict.log" >&2; fail "--strict on a clean file did not start"; }
echo "algorithm = ip_hash" >>"$RG_TMP/strict.ini"
kill -HUP "$pid"
wait_for 20 grep -q "reload refused" "$RG_TMP/strict.log" ||
	{ cat "$RG_TMP/strict.log" >&2; fail "--strict: a reload with a warning was not refused"; }
grep -q "strict.ini:.*: warning: algorithm = ip_hash" "$RG_TMP/strict.log" || fail "--strict reload: the warning is not named"
rg_stop "$pid" "$RG_TMP/strict.log" "--strict reload"

# Secret files: the token file, readable by group and others, then private.
printf '%s\n' 0123456789abcdef0123456789abcdef0123 >"$RG_TMP/token"
chmod 644 "$RG_TMP/token"
cat >"$RG_TMP/tok.ini" <<INI
[appliance]
admin = 127.0.0.1:18082
admin_token_file = $RG_TMP/token
INI
F=$RG_TMP/tok.ini
expect_rc 0 "--validate open token" "$RG" --validate -c "$F"
expect_msg "open token" "^$F:3: warning: admin_token_file: $RG_TMP/token .*group and others \(mode 0644\)"
expect_rc 1 "--validate --strict open token" "$RG" --validate --strict -c "$F"
chmod 640 "$RG_TMP/token"
expect_rc 0 "--validate group token" "$RG" --validate -c "$F"
expect_msg "group token" "^$F:3: warning: admin_token_file: .*accessible by group \(mode 0640\)"
chmod 600 "$RG_TMP/token"
expect_rc 0 "--validate --strict private token" "$RG" --validate --strict -c "$F"
[[ ! -s $RG_TMP/err ]] || { cat "$RG_TMP/err" >&2; fail "a private token file still warns"; }
grep -q "configuration is valid$" "$RG_TMP/out" || fail "clean file: no plain 'valid'"

# The tunnel's private key, the same way (wg genkey's umask is the user's).
wg genkey >"$RG_TMP/tunnel.key" 2>/dev/null || python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())' >"$RG_TMP/tunnel.key"
chmod 604 "$RG_TMP/tunnel.key"
cat >"$RG_TMP/tun.ini" <<INI
[appliance]
admin = 127.0.0.1:18082
[tunnel]
listen = 127.0.0.1:18120
private_key_file = $RG_TMP/tunnel.key
INI
expect_rc 1 "--validate --strict open tunnel key" "$RG" --validate --strict -c "$RG_TMP/tun.ini"
expect_msg "tunnel key" "^$RG_TMP/tun.ini:5: warning: private_key_file: .*accessible by others \(mode 0604\)"
echo "validate: ok"
