#!/usr/bin/env python3
"""TCP bulk transfer with a checksum, for the tunnel integration tests.

  xfer.py recv ADDR PORT          accept one connection, read to EOF,
                                  print "<bytes> <sha256>" (after "ready")
  xfer.py send ADDR PORT FILE     connect, send FILE, close; print the same
Both give up after 40 s.
"""
import hashlib
import socket
import sys
import time

def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    if mode == "recv":
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        ls.settimeout(40)
        print("ready", flush=True)
        c, _ = ls.accept()
        c.settimeout(40)
        t0 = time.monotonic()
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
        c.close()
    else:
        data = open(sys.argv[4], "rb").read()
        s = socket.create_connection((addr, port), timeout=40)
        t0 = time.monotonic()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # the receiver's close
        s.close()
        h.update(data)
        n = len(data)
    print(n, h.hexdigest(), "%.3f" % (time.monotonic() - t0), flush=True)

main()
