#!/usr/bin/env bash
# ringgatectl genkey / pubkey are interchangeable with wg genkey / wg pubkey,
# and certgen writes a certificate a TLS client accepts for its names.
. "$(dirname "$0")/../lib.sh"
CTL=$(realpath "$1")
command -v wg >/dev/null || fail "wg (wireguard-tools) is not installed: tools/setup.sh installs it"

for i in $(seq 20); do
	k=$("$CTL" genkey) || fail "genkey"
	[[ ${#k} -eq 44 ]] || fail "genkey: '$k' is not 44 characters"
	ours=$(echo "$k" | "$CTL" pubkey) || fail "pubkey"
	theirs=$(echo "$k" | wg pubkey) || fail "wg pubkey refused our key '$k'"
	[[ $ours == "$theirs" ]] || fail "pubkey of $k: ours $ours, wg says $theirs"
	w=$(wg genkey)
	[[ $(echo "$w" | "$CTL" pubkey) == "$(echo "$w" | wg pubkey)" ]] || fail "pubkey of wg's key $w"
done
echo "not a key" | "$CTL" pubkey 2>/dev/null && fail "pubkey accepted garbage"

cd "$RG_TMP" || fail "tmp"
"$CTL" certgen localhost 127.0.0.1 >/dev/null || fail "certgen"
[[ -s localhost.pem && -s localhost.key ]] || fail "certgen: files missing"
[[ $(stat -c %a localhost.key) == 600 ]] || fail "certgen: key is not mode 600"
openssl x509 -in localhost.pem -noout -checkhost localhost | grep -q 'does match' || fail "certgen: localhost not in the certificate"
openssl x509 -in localhost.pem -noout -checkip 127.0.0.1 | grep -q 'does match' || fail "certgen: 127.0.0.1 not in the certificate"
openssl verify -CAfile localhost.pem localhost.pem >/dev/null || fail "certgen: self-signature does not verify"
# The key belongs to the certificate.
[[ $(openssl x509 -in localhost.pem -noout -pubkey) == $(openssl pkey -in localhost.key -pubout) ]] || fail "certgen: key does not match"
"$CTL" certgen --cert a.pem --key a.key example.test >/dev/null && [[ -s a.pem && -s a.key ]] || fail "certgen --cert/--key"
echo "ctl_keys: ok"
