#!/usr/bin/env python3
"""TCP bulk transfer with a checksum, for the tunnel integration tests.

  xfer.py recv ADDR PORT [N]       accept N connections (default 1), read
                                   each to EOF; print "ready" once listening,
                                   then "<bytes> <sha256>" per connection
  xfer.py send ADDR PORT FILE [N]  send FILE over N connections at once (each
                                   its own flow); print "<bytes> <sha256>
                                   <seconds>" per connection
Everything gives up after 40 s. One process for N flows: starting a Python
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

def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
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
