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
