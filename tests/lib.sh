# Shared helpers for the shell tests. Source it: . "$(dirname "$0")/../lib.sh"
# Exit codes follow meson and automake: 0 pass, 1 fail, 77 skip.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "# $*" >&2; }

# Run this script again in a private network namespace holding only
# loopback, so fixed ports (4433, 8082, 51820) never meet another test's.
# Call it first, with "$@".
in_private_netns() {
	if [[ -z ${RG_IN_NETNS:-} ]]; then
		[[ $(id -u) -eq 0 ]] || skip "needs root for a network namespace"
		unshare -n true 2>/dev/null || skip "the kernel refuses network namespaces (unshare -n)"
		RG_IN_NETNS=1 exec unshare -n -- bash "$0" "$@"
	fi
	ip link set lo up || fail "cannot bring loopback up"
}

# wait_for SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds.
wait_for() {
	local t=$1; shift
	local end=$(( $(date +%s%N) + t * 1000000000 ))
	while (( $(date +%s%N) < end )); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# Processes started by the test, ended by id at exit; named network
# namespaces the test made, deleted at exit.
RG_PIDS=()
RG_NETNS=()
rg_cleanup() {
	local p
	for p in "${RG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${RG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${RG_NETNS[@]}"; do ip netns del "$p" 2>/dev/null; done
	[[ -n ${RG_TMP:-} ]] && rm -rf "$RG_TMP"
}
trap rg_cleanup EXIT
RG_TMP=$(mktemp -d)

# rg_forget PID: PID ended (or will be waited for) here; not at exit.
rg_forget() {
	local keep=() p
	for p in "${RG_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	RG_PIDS=("${keep[@]}")
}

# rg_clean_log LOG [WHAT]: fail when a sanitizer reported into LOG.
rg_clean_log() {
	if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' "$1"; then
		grep -A30 'Sanitizer\|runtime error' "$1" | head -60 >&2
		fail "${2:+$2: }sanitizer report in $1"
	fi
}

# rg_stop PID LOG [WHAT]: SIGTERM a ringgate this test started; it must
# exit 0 with no sanitizer report in LOG.
rg_stop() {
	kill -TERM "$1"
	local rc=0
	wait "$1" || rc=$?
	rg_forget "$1"
	(( rc == 0 )) || fail "${3:+$3: }exit code $rc after SIGTERM"
	rg_clean_log "$2" "${3:-}"
}

# send_udp HOST PORT COUNT SIZE: COUNT datagrams of SIZE bytes.
send_udp() {
	python3 - "$@" <<'PY'
import socket, sys
host, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
for i in range(count):
    s.sendto(bytes([i & 0xff]) * size, (host, port))
PY
}

# sum_metrics REGEX: Prometheus text on stdin; the values of the samples
# whose name (with labels) matches REGEX, summed (0 when none).
sum_metrics() {
	awk -v re="$1" '$0 !~ /^#/ && $1 ~ re { s += $2 } END { print s + 0 }'
}

# metric_sum URL REGEX: sum_metrics over what URL serves.
metric_sum() {
	curl -sf "$1" | sum_metrics "$2"
}

# The site most integration tests serve: vhost localhost with the test's
# certificate ($RG_TMP/localhost.crt, .key) and its paths routed to
# tests/proxy/backend.py on PORT (default 9318).
# rg_site_ini [PORT [ROUTE [PREFIX]]] prints the INI sections, the route
# (default "all" on "/") last: keys printed right after it belong to it.
# rg_site_backend [PORT] starts backend.py and waits for it.
rg_site_ini() {
	cat <<INI
[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key

[backend be]
server = 127.0.0.1:${1:-9318}

[route ${2:-all}]
host = localhost
path_prefix = ${3:-/}
backend = be
INI
}
# Start "$RG" with ARGS on rg.ini of the current directory (stderr to
# rg.log), RG_PID its pid, and wait for the admin API's /health ($ADMIN,
# default 127.0.0.1:8082); on failure rg.log is shown.
rg_start() { # [ARGS...]
	"$RG" "$@" -c rg.ini 2>rg.log &
	RG_PID=$!
	RG_PIDS+=("$RG_PID")
	wait_for 20 curl -sf "${ADMIN:-http://127.0.0.1:8082}/health" || { cat rg.log >&2; fail "no /health"; }
}

# The proxy tests' arguments (RINGGATE H3CLIENT BACKEND_PY): RG, H3 (the
# test skips when h3client is not built) and BACKEND as absolute paths;
# then quic/common.sh's helpers, in RG_TMP.
proxy_test_args() {
	RG=$(realpath "$1") H3=$2 BACKEND=$(realpath "$3")
	[[ -n $H3 && -x $H3 ]] || skip "h3client (libcurl HTTP/3) not built"
	H3=$(realpath "$H3")
	. "$(dirname "${BASH_SOURCE[0]}")/quic/common.sh"
	cd "$RG_TMP" || fail "no temp dir"
}

rg_site_backend() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/proxy/backend.py" "${1:-9318}" rg >/dev/null 2>&1 &
	RG_PIDS+=($!)
	wait_for 10 curl -sf "http://127.0.0.1:${1:-9318}/x" || fail "backend did not start"
}
