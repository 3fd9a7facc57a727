# tests/https/chromium_lib.sh: what the HTTPS tests with headless Chromium
# share (chromium_altsvc.sh, pq_chromium.sh). Sourced after tests/lib.sh.
#
# chromium_ca DIR KEYDIR: a test CA (DIR/ca.pem, DIR/ca.key) and a leaf for
#   localhost signed by it (KEYDIR/cert.pem, KEYDIR/key.pem), and the CA
#   trusted in an NSS database under DIR/home (Chromium's HOME): Chromium
#   trusts a root only from there (../shared/design/PEERS.md).
# chromium_get NETLOG DOM FORCE_QUIC_ORIGIN URL [FLAG...]: one headless
#   navigation to URL, its net log and DOM saved; localhost is mapped to
#   127.0.0.1, QUIC is on and forced only for FORCE_QUIC_ORIGIN.
#   HOME=DIR/home from chromium_ca. Fails the test if Chromium does.
# chromium_site_ini KEYDIR: ringgate's INI for the Chromium tests (two
#   workers, admin on 8082, [https] and [quic] on 127.0.0.1:8443, vhost
#   localhost with KEYDIR's certificate, everything to 127.0.0.1:8091).

chromium_ca() { # DIR KEYDIR
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ringgate test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
		-keyout "$1/ca.key" -out "$1/ca.pem" 2>/dev/null || fail "CA"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$2/key.pem" -out "$1/leaf.csr" 2>/dev/null || fail "CSR"
	printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$1/ext"
	openssl x509 -req -in "$1/leaf.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -days 2 \
		-extfile "$1/ext" -out "$2/cert.pem" 2>/dev/null || fail "leaf"
	mkdir -p "$1/home/.pki/nssdb"
	certutil -N -d "sql:$1/home/.pki/nssdb" --empty-password || fail "NSS database"
	certutil -A -d "sql:$1/home/.pki/nssdb" -t "C,," -n ringgate-test-ca -i "$1/ca.pem" || fail "NSS import"
	CHROMIUM_HOME=$1/home CHROMIUM_DIR=$1
}

chromium_site_ini() { # KEYDIR
	cat <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[https]
listen = 127.0.0.1:8443

[quic]
listen = 127.0.0.1:8443

[vhost localhost]
cert = $1/cert.pem
key = $1/key.pem

[backend site]
server = 127.0.0.1:8091

[route site]
host = localhost
path_prefix = /
backend = site
INI
}

chromium_get() { # NETLOG DOM FORCE_QUIC_ORIGIN URL [FLAG...]
	local netlog=$1 dom=$2 force=$3 url=$4
	shift 4
	rm -rf "$CHROMIUM_DIR/profile"
	HOME=$CHROMIUM_HOME timeout 90 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$CHROMIUM_DIR/profile" --enable-quic --origin-to-force-quic-on="$force" \
		--host-resolver-rules="MAP localhost 127.0.0.1" --log-net-log="$netlog" \
		"$@" --dump-dom "$url" >"$dom" 2>"$dom.err" </dev/null ||
		{ tail -5 "$dom.err" >&2; fail "chromium failed ($url)"; }
}

# The Debian 13 root's OpenSSL build (issue 20: Debian 12 has no OpenSSL
# 3.5), run from the host for its Chromium (suite d13host, tools/test.sh).
# d13_root: sets ROOT ($RINGGATE_DEBIAN13_ROOT, by default
# /var/tmp/ringgate-debian13) and RGR (the root's ringgate, seen from
# inside); skips (77) when that build is absent, as before tools/test.sh's
# Debian 13 block made it. Call before in_private_netns.
# d13_root_tmp: after in_private_netns: holds the root's lock (the build
# is not remade under us: debian13.sh takes it), makes RT, a temp dir in
# the root for the files ringgate reads (RTI: the same seen from inside),
# removed at exit.
# inroot CMD...: CMD in ROOT, in private mounts with the host's /proc, /dev
# and /sys bound in (as debian13.sh does), in this network namespace; exec
# all the way down, so the pid of `(inroot ...) &` is CMD's own.
d13_root() {
	ROOT=${RINGGATE_DEBIAN13_ROOT:-/var/tmp/ringgate-debian13}
	RGR=/src/build/d13o/control/ringgate
	[[ -x $ROOT$RGR ]] || skip "no OpenSSL build of ringgate in the Debian 13 root ($ROOT$RGR): tools/test.sh's Debian 13 block makes it"
	[[ $(id -u) -eq 0 ]] || skip "needs root (chroot, network namespace)"
}

d13_root_tmp() {
	exec 9>"$ROOT.lock"
	flock -w 600 9 || fail "the Debian 13 root stays locked"
	RT=$(mktemp -d "$ROOT/tmp/rgtest.XXXXXX") || fail "no temp dir in the root"
	RTI=${RT#"$ROOT"}
	trap 'rg_cleanup; rm -rf "$RT"' EXIT
}

inroot() {
	R=$ROOT exec unshare -m -- bash -c 'mount --make-rprivate / && for d in proc dev sys; do mount --rbind "/$d" "$R/$d" || exit 1; done &&
		exec chroot "$R" /usr/bin/env -i LANG=C.UTF-8 PATH=/usr/bin:/bin "$@"' bash "$@"
}
