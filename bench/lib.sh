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
# bench_rg_site ADDR [LINE]: ringgate's INI sections the suites share:
# vhost localhost with $T's certificate, backend bench (server ADDR, and
# LINE when given) and a route of everything to it.
# bench_rg_start: ringgate ($RG) on $T/ringgate.ini, refused by --validate
# first (its errors shown, the run stopped), then started on CPU 1 in the
# background ($! is its pid), stderr to $T/ringgate.log.

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

bench_rg_site() {
	printf '[vhost localhost]\ncert = %s\nkey = %s\n\n' "$T/cert.pem" "$T/key.pem"
	printf '[backend bench]\nserver = %s\n%s\n' "$1" "${2:-}"
	printf '[route bench]\nhost = localhost\npath_prefix = /\nbackend = bench\n'
}

bench_rg_start() {
	"$RG" --validate -c "$T/ringgate.ini" >"$T/validate.log" 2>&1 ||
		{ cat "$T/validate.log" >&2; exit 1; }
	taskset -c 1 "$RG" -c "$T/ringgate.ini" 2>"$T/ringgate.log" &
}
