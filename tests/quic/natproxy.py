#!/usr/bin/env python3
"""A UDP NAT that rebinds: what a home router does when its mapping for a
client expires mid-connection.

    natproxy.py LISTEN_PORT SERVER_PORT PERIOD_MS [START_MS]

Clients send to 127.0.0.1:LISTEN_PORT; the proxy forwards to
127.0.0.1:SERVER_PORT from an "external" socket. The first client datagram
after each PERIOD_MS opens a new external socket (a new source port) and the
old one is closed (none before START_MS, default 500, after the first
datagram: a client must not migrate before the handshake is confirmed, RFC
9000 9, and servers ignore packets from new paths until then), so the server's datagrams still in flight to the old
port are lost, as behind a real NAT. The rebinding is triggered by a client
datagram, as a real NAT creates a mapping only for outbound traffic (which
gtlsclient's --nat-rebinding does not model: it switches sockets without
sending, and a pure download then waits for nothing).

Prints "rebinds N" on stdout at SIGTERM.
"""
import select
import signal
import socket
import sys
import time

listen_port, server_port, period = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000.0
start = (int(sys.argv[4]) if len(sys.argv) > 4 else 500) / 1000.0
server = ("127.0.0.1", server_port)
inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inside.bind(("127.0.0.1", listen_port))
inside.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)


def external():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    return s


outside = external()
client = None
rebinds = 0
next_rebind = None
done = False


def stop(*_):
    global done
    done = True


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
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
                now = time.monotonic()
                if src != client:  # a new client: a new mapping, a fresh start
                    client, next_rebind = src, None
                    outside.close()
                    outside = external()
                if next_rebind is None:
                    next_rebind = now + start
                elif now >= next_rebind:
                    outside.close()
                    outside = external()
                    rebinds += 1
                    next_rebind = now + period
                outside.sendto(data, server)
        else:
            for _ in range(64):
                try:
                    data = outside.recv(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if client:
                    inside.sendto(data, client)
print("rebinds %d" % rebinds, flush=True)
