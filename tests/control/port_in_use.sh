#!/usr/bin/env bash
# A port already taken is a runtime failure at start: exit 2 with one line
# on stderr naming the address and the cause (INTERFACE.md).
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1")

hold() { # proto port
	python3 -c '
import socket, sys, time
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", int(sys.argv[2])))
if kind == socket.SOCK_STREAM:
    s.listen()
print("held", flush=True)
time.sleep(60)
' "$@" >"$RG_TMP/hold" &
	RG_PIDS+=("$!")
	wait_for 5 grep -q held "$RG_TMP/hold" || fail "could not hold $1 port $2"
}

check() { # port what
	timeout 20 "$RG" --demo --workers 1 >/dev/null 2>"$RG_TMP/err"
	local rc=$?
	[[ $rc -eq 2 ]] || { cat "$RG_TMP/err" >&2; fail "$2 in use: exit $rc, want 2"; }
	grep -q "127.0.0.1:$1" "$RG_TMP/err" || { cat "$RG_TMP/err" >&2; fail "$2: the address is not named"; }
	grep -qi "in use" "$RG_TMP/err" || { cat "$RG_TMP/err" >&2; fail "$2: the cause is not named"; }
}

hold udp 4433
check 4433 "QUIC port"
kill "${RG_PIDS[@]}"; wait 2>/dev/null; RG_PIDS=()
hold tcp 8082
check 8082 "admin port"

# No permission: a privileged port as an unprivileged user.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$RG_TMP"
	# the user's own key, private to it (0644 would add a warning line)
	wg genkey >"$RG_TMP/tunnel.key" && chown nobody "$RG_TMP/tunnel.key" && chmod 600 "$RG_TMP/tunnel.key"
	cat >"$RG_TMP/priv.ini" <<INI
[appliance]
workers = 1
admin = 127.0.0.1:18082

[tunnel]
listen = 127.0.0.1:443
private_key_file = $RG_TMP/tunnel.key
INI
	chmod 644 "$RG_TMP/priv.ini"
	setpriv --reuid nobody --regid nogroup --clear-groups --inh-caps=-all \
		"$RG" -c "$RG_TMP/priv.ini" >/dev/null 2>"$RG_TMP/err"
	rc=$?
	[[ $rc -eq 2 ]] || { cat "$RG_TMP/err" >&2; fail "privileged port as nobody: exit $rc, want 2"; }
	grep -q "127.0.0.1:443" "$RG_TMP/err" && grep -qi "permission denied" "$RG_TMP/err" ||
		{ cat "$RG_TMP/err" >&2; fail "privileged port: the address and cause are not named"; }
	[[ $(wc -l <"$RG_TMP/err") -eq 1 ]] || { cat "$RG_TMP/err" >&2; fail "more than one line on stderr"; }
fi
echo "port_in_use: ok"
