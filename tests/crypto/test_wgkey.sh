#!/usr/bin/env bash
# crypto/wgkey.c against wireguard-tools: keys we generate are accepted by
# `wg pubkey` with the same result as ours, and our pubkey of keys from
# `wg genkey` equals wg's. Exit 0 pass, 1 fail, 77 skip.
TOOL=$1
command -v wg >/dev/null || { echo "SKIP: wg (wireguard-tools) not installed"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
for i in $(seq 25); do
	k=$("$TOOL" genkey) || fail "genkey"
	[[ ${#k} -eq 44 ]] || fail "genkey '$k' is not 44 characters"
	ours=$(echo "$k" | "$TOOL" pubkey) || fail "pubkey of our $k"
	theirs=$(echo "$k" | wg pubkey) || fail "wg pubkey refused our key $k"
	[[ $ours == "$theirs" ]] || fail "pubkey of $k: ours $ours, wg $theirs"
	w=$(wg genkey)
	ours=$(echo "$w" | "$TOOL" pubkey) || fail "pubkey of wg's $w"
	[[ $ours == "$(echo "$w" | wg pubkey)" ]] || fail "pubkey of wg's key $w"
	# wg pubkey clamps; so do we: an unclamped private key (all bits set in
	# byte 0 and 31) gives the same public key on both sides.
	u=$(echo "$w" | base64 -d | xxd -p -c 64 | sed 's/^../ff/; s/..$/ff/' | xxd -r -p | base64)
	[[ $(echo "$u" | "$TOOL" pubkey) == "$(echo "$u" | wg pubkey)" ]] || fail "unclamped key $u"
done
echo "x" | "$TOOL" pubkey >/dev/null 2>&1 && fail "pubkey accepted garbage"
echo "test_wgkey: ok"
