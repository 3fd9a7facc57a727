#!/usr/bin/env python3
"""TCP bulk transfer with a checksum, for the tunnel integration tests.

  xfer.py recv ADDR PORT [N]       accept N connections (default 1), read
                                   each to EOF; print "ready" once listening,
                                   then "<bytes> <sha256>" per connection
  xfer.py send ADDR PORT FILE [N]  send FILE over N connections at once (each
                                   its own flow); print "<bytes> <sha256>
                                   <seconds>" per connection
  xfer.py udp-recv ADDR PORT N     count datagrams until N or 10 s idle;
                                   print "ready", then "<good> <bad>"
  xfer.py udp-send ADDR PORT N SEG send N datagrams of SEG bytes, 20 at a
                                   time in one sendmsg with UDP_SEGMENT (GSO)
  xfer.py udp-flows ADDR PORT N SEG send N datagrams, each from a socket of
                                   its own: N flows with N source ports
Each datagram carries its number and bytes derived from it, so the
receiver tells intact from damaged ones. Everything gives up after 40 s. One process for N flows: starting a Python
per flow is slow on a loaded machine.
"""
import hashlib
import socket
import sys
import threading
import time

def recv_one(c, out, i):
    h = hashlib.sha256()
    n = 0
    c.settimeout(40)
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.close()
    out[i] = "%d %s" % (n, h.hexdigest())

def send_one(addr, port, data, out, i):
    t0 = time.monotonic()
    s = socket.create_connection((addr, port), timeout=40)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the receiver's close: everything arrived
    s.close()
    out[i] = "%d %s %.3f" % (len(data), hashlib.sha256(data).hexdigest(), time.monotonic() - t0)

def dgram(seq, size):
    return seq.to_bytes(4, "big") + bytes((seq * 7 + i) & 0xff for i in range(size - 4))

def udp(mode, fam, addr, port, n):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if mode == "udp-recv":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((addr, port))
        s.settimeout(10)
        print("ready", flush=True)
        seen, bad = set(), 0
        try:
            while len(seen) < n:
                b = s.recv(65536)
                seq = int.from_bytes(b[:4], "big")
                if seq >= n or b != dgram(seq, len(b)):
                    bad += 1
                else:
                    seen.add(seq)
        except socket.timeout:
            pass
        print(len(seen), bad, flush=True)
        return
    size = int(sys.argv[5])
    if mode == "udp-flows":
        for q in range(n):
            f = socket.socket(fam, socket.SOCK_DGRAM)
            f.sendto(dgram(q, size), (addr, port))
            f.close()
            time.sleep(0.002)
        print("sent", n, flush=True)
        return
    UDP_SEGMENT = 103
    for first in range(0, n, 20):
        batch = b"".join(dgram(q, size) for q in range(first, min(first + 20, n)))
        s.sendmsg([batch], [(socket.IPPROTO_UDP, UDP_SEGMENT, size.to_bytes(2, sys.byteorder))], 0, (addr, port))
        time.sleep(0.005)
    print("sent", n, flush=True)

def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if mode.startswith("udp-"):
        udp(mode, fam, addr, port, int(sys.argv[4]))
        return
    if mode == "recv":
        n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(n)
        ls.settimeout(40)
        print("ready", flush=True)
        out, ts = [None] * n, []
        for i in range(n):
            c, _ = ls.accept()
            t = threading.Thread(target=recv_one, args=(c, out, i))
            t.start()
            ts.append(t)
    else:
        data = open(sys.argv[4], "rb").read()
        n = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        out = [None] * n
        ts = [threading.Thread(target=send_one, args=(addr, port, data, out, i)) for i in range(n)]
        for t in ts:
            t.start()
    for t in ts:
        t.join()
    for line in out:
        print(line if line else "failed", flush=True)

main()
