# Shared by the quic shell tests: certificates, starting and stopping
# quic_testsrv, reading its counters. Source after ../lib.sh.

PORT=4433

make_cert() { # DIR NAME
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$2" -addext "subjectAltName=DNS:$2,IP:127.0.0.1" \
		-keyout "$1/$2.key" -out "$1/$2.crt" 2>/dev/null || fail "openssl cannot make a certificate"
}

# start_srv NAME ARGS...: quic_testsrv on 127.0.0.1:$PORT, output in $RG_TMP/NAME.{out,err}
start_srv() {
	local name=$1; shift
	"$SRV" --port "$PORT" --cert "$RG_TMP/localhost.crt" --key "$RG_TMP/localhost.key" \
		--time-limit 200 "$@" >"$RG_TMP/$name.out" 2>"$RG_TMP/$name.err" &
	SRV_PID=$!
	RG_PIDS+=("$SRV_PID")
	wait_for 10 grep -q listening "$RG_TMP/$name.err" || { cat "$RG_TMP/$name.err" >&2; fail "$name: server did not start"; }
	SRV_NAME=$name
}

# stop_srv: SIGTERM, wait, check it exited 0 and that ASan (when built in) found nothing
stop_srv() {
	kill -TERM "$SRV_PID" 2>/dev/null
	local rc=0
	wait "$SRV_PID" || rc=$?
	[[ $rc -eq 0 ]] || { tail -40 "$RG_TMP/$SRV_NAME.err" >&2; fail "$SRV_NAME: server exited $rc"; }
	rg_clean_log "$RG_TMP/$SRV_NAME.err" "$SRV_NAME"
}

# counter NAME: value printed by the last stopped server
counter() { awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print -1 }' "$RG_TMP/$SRV_NAME.out"; }

pattern_sha() { # N: sha256 of /bytes/N
	python3 -c "
import hashlib, sys
n = int(sys.argv[1]); h = hashlib.sha256(); block = bytes(ord('a') + i % 26 for i in range(26 * 4096))
while n: k = min(n, len(block)); h.update(block[:k]); n -= k
print(h.hexdigest())" "$1"
}

find_gtlsclient() {
	local p
	p=$(command -v gtlsclient 2>/dev/null) && { echo "$p"; return 0; }
	for p in /usr/lib/ngtcp2*/gtlsclient /usr/lib/*/ngtcp2*/gtlsclient; do
		[[ -x $p ]] && { echo "$p"; return 0; }
	done
	return 1
}

# appliance_args RINGGATE RINGGATECTL TOOL WHAT: the three arguments of the
# appliance scripts (quic_reload, vhost_listen, max_conns): sets RG, CTL and
# TOOL (skips, naming WHAT, when TOOL was not built), ADMIN, and enters
# $RG_TMP, where the scripts write their certificates and rg.ini.
appliance_args() {
	RG=$(realpath "$1") CTL=$(realpath "$2")
	[[ -n ${3:-} && -x $3 ]] || skip "no $4"
	TOOL=$(realpath "$3")
	ADMIN=http://127.0.0.1:8082
	cd "$RG_TMP" || fail "tmp"
}
