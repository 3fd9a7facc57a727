# bench/lib.sh: what bench/quic.sh and bench/https.sh share, sourced by
# both inside their private network namespace.
#
# bench_begin NAME: a scratch directory $T (removed at exit, with every
# process in PIDS killed first), log() prefixed with NAME, and the output
# file $out truncated.
# bench_www BIG: the backend's files under $T/www (bytes/100 and bytes/BIG
# of a fixed pattern, proxycheck.txt, health) and a self-signed P-256
# certificate for localhost and 127.0.0.1 in $T/cert.pem, $T/key.pem.
# cpu_ticks PID, rss_kb PID, and tck (clock ticks per second).

bench_begin() {
	T=$(mktemp -d "/tmp/rg-$1-XXXXXX")
	PIDS=()
	BENCH_NAME=$1
	trap bench_cleanup EXIT
	: >"$out"
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}

log() { echo "$BENCH_NAME: $*" >&2; }

bench_www() {
	mkdir -p "$T/www/bytes" "$T/tmp" "$T/caddy"
	python3 - "$T/www/bytes" "$1" <<'PY'
import sys
block = bytes(ord('a') + i % 26 for i in range(26 * 40960))
for n in (100, int(sys.argv[2])):
    with open(f"{sys.argv[1]}/{n}", "wb") as f:
        left = n
        while left:
            k = min(left, len(block)); f.write(block[:k]); left -= k
PY
	echo "served by the backend" >"$T/www/proxycheck.txt"
	echo ok >"$T/www/health"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	chmod 644 "$T/key.pem"
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
tck=$(getconf CLK_TCK)
