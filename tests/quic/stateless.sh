#!/bin/bash
# The stateless answers, with hand-made datagrams (python): Version
# Negotiation for an unknown version (RFC 9000 6), nothing for a short one,
# a stateless reset smaller than the trigger for an unknown short-header
# packet (RFC 9000 10.3), and garbage counted as bad packets.
# Args: quic_testsrv
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
SRV=$1
[[ -x $SRV ]] || fail "usage: stateless.sh QUIC_TESTSRV"
make_cert "$RG_TMP" localhost
start_srv stateless
python3 - "$PORT" <<'PY' || fail "stateless answers wrong"
import os, socket, struct, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
def ask(pkt):
    s.sendto(pkt, ("127.0.0.1", port))
    try:
        return s.recv(2048)
    except socket.timeout:
        return None
dcid, scid = os.urandom(8), os.urandom(5)
# long header, unknown version 0x1a2a3a4a, padded to 1200
hdr = bytes([0xc0]) + struct.pack(">I", 0x1a2a3a4a) + bytes([8]) + dcid + bytes([5]) + scid
r = ask(hdr + bytes(1200 - len(hdr)))
assert r is not None, "no Version Negotiation"
assert r[0] & 0x80 and r[1:5] == b"\0\0\0\0", "not a VN packet: %r" % r[:8]
# VN echoes the CIDs swapped: DCID = client's SCID, SCID = client's DCID
assert r[5] == 5 and r[6:11] == scid and r[11] == 8 and r[12:20] == dcid, "VN CIDs wrong"
versions = [struct.unpack(">I", r[i:i+4])[0] for i in range(20, len(r), 4)]
assert 1 in versions, "VN does not offer QUIC v1: %r" % versions
# too small to start a connection: no VN (RFC 9000 5.2.2)
assert ask(hdr + bytes(100)) is None, "VN sent for a small datagram"
# short header, unknown 16-byte DCID of our shape (worker 0): stateless reset
pkt = bytes([0x40]) + bytes([0x0f, 0, 0]) + os.urandom(13) + os.urandom(80)
r = ask(pkt)
assert r is not None, "no stateless reset"
assert len(r) < len(pkt) and len(r) >= 21 and (r[0] & 0xc0) == 0x40, "bad reset: len %d" % len(r)
# a tiny short-header packet gets nothing (a reset must be smaller, >= 21)
assert ask(bytes([0x40]) + os.urandom(20)) is None, "reset answered a 21-byte packet"
# garbage long header
assert ask(bytes([0xc0, 0, 0])) is None
print("stateless ok")
PY
stop_srv
[[ $(counter version_negotiation_sent) -eq 1 ]] || fail "version_negotiation_sent $(counter version_negotiation_sent)"
# ngtcp2 treats the small unknown-version datagram as unparseable: either count will do
(( $(counter drop_unknown_version) + $(counter drop_bad_packet) == 3 )) ||
	fail "drop_unknown_version $(counter drop_unknown_version) drop_bad_packet $(counter drop_bad_packet)"
[[ $(counter stateless_reset_sent) -eq 1 ]] || fail "stateless_reset_sent $(counter stateless_reset_sent)"
[[ $(counter drop_no_conn) -eq 2 ]] || fail "drop_no_conn $(counter drop_no_conn)"
[[ $(counter drop_bad_packet) -ge 1 ]] || fail "drop_bad_packet $(counter drop_bad_packet)"
note "$(grep -v ' 0$' "$RG_TMP/stateless.out" | tr '\n' ' ')"
echo "PASS"
