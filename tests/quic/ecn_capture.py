#!/usr/bin/env python3
"""Count the ECN codepoints (RFC 3168: the low two bits of the IPv4 TOS)
of the UDP datagrams sent from PORT, read on a packet socket in the test's
network namespace (needs CAP_NET_RAW there), until SECONDS passed or the
file STOP exists. Prints "dgrams N not_ect N ect1 N ect0 N ce N".
A GSO super-datagram crosses loopback as one packet with one IP header: its
codepoint is the one of all its segments.
Usage: ecn_capture.py PORT SECONDS STOP"""
import os, select, socket, struct, sys, time

port, seconds, stop = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ETH_P_IP = 0x0800
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
s.bind(("lo", 0))
print("ready", flush=True)
counts = [0, 0, 0, 0]
end = time.monotonic() + seconds
while time.monotonic() < end and not os.path.exists(stop):
    if not select.select([s], [], [], 0.1)[0]:
        continue
    pkt, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:  # loopback shows each packet twice
        continue
    if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != socket.IPPROTO_UDP:
        continue
    ihl = (pkt[0] & 15) * 4
    sport = struct.unpack("!H", pkt[ihl:ihl + 2])[0]
    if sport == port:
        counts[pkt[1] & 3] += 1
print("dgrams %d not_ect %d ect1 %d ect0 %d ce %d" % (sum(counts), counts[0], counts[1], counts[2], counts[3]),
      flush=True)
