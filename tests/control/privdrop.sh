#!/usr/bin/env bash
# [appliance] user: after binding (port 443 needs root), ringgate runs as
# that user; the control thread keeps only CAP_NET_ADMIN and
# CAP_NET_BIND_SERVICE, the workers keep nothing; it still serves and it
# still binds a privileged port on reload.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1")
[[ $(id -u) -eq 0 ]] || skip "needs root"
id nobody >/dev/null 2>&1 || skip "no user 'nobody' on this system"
wg genkey >"$RG_TMP/tunnel.key" || fail "wg genkey"
chmod 644 "$RG_TMP/tunnel.key"   # readable by nobody for the reload below
chmod 755 "$RG_TMP"
cat >"$RG_TMP/rg.ini" <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082
user = nobody

[tunnel]
listen = 127.0.0.1:443
private_key_file = $RG_TMP/tunnel.key
INI
chmod 644 "$RG_TMP/rg.ini"
"$RG" -c "$RG_TMP/rg.ini" 2>"$RG_TMP/log" &
pid=$!
RG_PIDS+=("$pid")
wait_for 10 curl -sf http://127.0.0.1:8082/health || { cat "$RG_TMP/log" >&2; fail "no /health"; }

field() { awk -v f="$2:" '$1 == f { print $2 }' "$1"; }
uid_nobody=$(id -u nobody)
main=/proc/$pid/status
[[ $(field "$main" Uid) == "$uid_nobody" ]] || fail "control thread uid $(field "$main" Uid), want $uid_nobody"
# CAP_NET_BIND_SERVICE is bit 10, CAP_NET_ADMIN bit 12: 0x1400
[[ $((16#$(field "$main" CapPrm))) -eq $((0x1400)) ]] || fail "control thread CapPrm $(field "$main" CapPrm), want 0x1400"
[[ $((16#$(field "$main" CapEff))) -eq $((0x1400)) ]] || fail "control thread CapEff $(field "$main" CapEff), want 0x1400"
workers=0
for t in /proc/$pid/task/*; do
	name=$(cat "$t/comm")
	[[ $name == rg-worker-* ]] || continue
	workers=$((workers + 1))
	[[ $(field "$t/status" Uid) == "$uid_nobody" ]] || fail "$name runs as uid $(field "$t/status" Uid)"
	[[ $((16#$(field "$t/status" CapPrm))) -eq 0 ]] || fail "$name keeps capabilities $(field "$t/status" CapPrm)"
done
[[ $workers -eq 2 ]] || fail "found $workers worker threads, want 2"

# A reload that adds a privileged port works with CAP_NET_BIND_SERVICE.
sed -i 's|^listen = 127.0.0.1:443|listen = 127.0.0.1:443, 127.0.0.1:444|' "$RG_TMP/rg.ini"
code=$(curl -s -o "$RG_TMP/reload" -w '%{http_code}' -X POST http://127.0.0.1:8082/reload)
[[ $code == 200 ]] || { cat "$RG_TMP/reload" >&2; fail "reload as nobody: HTTP $code"; }
curl -sf http://127.0.0.1:8082/status | grep -q '127.0.0.1:444' || fail "port 444 not bound after reload"
echo "privdrop: ok"
