#!/usr/bin/env python3
"""A UDP NAT that rebinds: what a home router does when its mapping for a
client expires mid-connection.

    natproxy.py [--every-bytes N [--start-bytes M]] [--ready FILE]
                LISTEN_PORT SERVER_PORT [PERIOD_MS [START_MS]]

Clients send to 127.0.0.1:LISTEN_PORT; the proxy forwards to
127.0.0.1:SERVER_PORT from an "external" socket. At a rebinding the next
client datagram opens a new external socket (a new source port) and the old
one is closed, so the server's datagrams still in flight to the old port are
lost, as behind a real NAT. The rebinding is triggered by a client datagram,
as a real NAT creates a mapping only for outbound traffic (which
gtlsclient's --nat-rebinding does not model: it switches sockets without
sending, and a pure download then waits for nothing).

When to rebind, per client (a new client address starts afresh):
  --every-bytes N   after every N bytes forwarded from the server to the
                    client, the first time after --start-bytes M (default
                    N). Counting bytes instead of time makes the number of
                    rebindings of a download of a given size the same on
                    any machine and any build: a fast release build no
                    longer finishes 20 MB before the first timer fires. M
                    must leave room for the handshake: a client must not
                    migrate before it is confirmed (RFC 9000 section 9),
                    and servers ignore packets from new paths until then;
                    the handshake is a few kilobytes, M is megabytes.
  PERIOD_MS         otherwise: the first client datagram after each
                    PERIOD_MS, none before START_MS (default 500) after the
                    first datagram.

--ready FILE is written (atomically, by rename) once the listening socket is
bound, so a test waits for it instead of sleeping. "natproxy listening" is
printed then too. Prints "rebinds N" and "forwarded_down BYTES" on stdout at
SIGTERM.
"""
import argparse
import os
import select
import signal
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--every-bytes", type=int, default=0)
ap.add_argument("--start-bytes", type=int, default=0)
ap.add_argument("--ready")
ap.add_argument("listen_port", type=int)
ap.add_argument("server_port", type=int)
ap.add_argument("period_ms", type=int, nargs="?", default=0)
ap.add_argument("start_ms", type=int, nargs="?", default=500)
args = ap.parse_args()
if not args.every_bytes and not args.period_ms:
    ap.error("give --every-bytes or PERIOD_MS")
by_bytes = args.every_bytes > 0
period = args.period_ms / 1000.0
start = args.start_ms / 1000.0
every = args.every_bytes
start_bytes = args.start_bytes or every

server = ("127.0.0.1", args.server_port)
inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inside.bind(("127.0.0.1", args.listen_port))
inside.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)


def external():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    return s


outside = external()
client = None
rebinds = 0
next_rebind = None  # by time: monotonic seconds; by bytes: a count of down_bytes
down_bytes = 0      # forwarded server -> current client
down_total = 0
done = False


def stop(*_):
    global done
    done = True


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
if args.ready:
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, args.ready)
print("natproxy listening", flush=True)
while not done:
    try:
        ready, _, _ = select.select([inside, outside], [], [], 0.2)
    except InterruptedError:
        continue
    for s in ready:
        if s is inside:
            for _ in range(64):
                try:
                    data, src = inside.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if src != client:  # a new client: a new mapping, a fresh start
                    client, next_rebind, down_bytes = src, None, 0
                    outside.close()
                    outside = external()
                if by_bytes:
                    if next_rebind is None:
                        next_rebind = start_bytes
                    due = down_bytes >= next_rebind
                else:
                    now = time.monotonic()
                    if next_rebind is None:
                        next_rebind = now + start
                    due = now >= next_rebind
                if due:
                    outside.close()
                    outside = external()
                    rebinds += 1
                    next_rebind = down_bytes + every if by_bytes else time.monotonic() + period
                outside.sendto(data, server)
        elif s is outside:
            for _ in range(64):
                try:
                    data = outside.recv(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if client:
                    inside.sendto(data, client)
                    down_bytes += len(data)
                    down_total += len(data)
print("rebinds %d" % rebinds, flush=True)
print("forwarded_down %d" % down_total, flush=True)
