#!/usr/bin/env python3
"""A small HTTP/1.1 backend for the proxy tests (loopback only).

usage: backend.py PORT NAME

  GET  /bytes/N      N bytes of 'a' + i % 26, Content-Length, streamed
  GET  /chunked/N    the same body in chunked coding, with a trailer
  POST /echo         the request body back (Content-Length or chunked in)
  GET  /headers      the request head as the backend saw it (also appended
                     to the file $HDRLOG when set)
  GET  /slow/S       answers after S seconds
  GET  /close-mid    promises 100000 bytes, sends 1000, closes
  GET  /close-early  closes without an answer
  GET  /garbage      a malformed status line
  GET  /te-cl        "Content-Length: 100" and "Transfer-Encoding: chunked"
                     with a 5-byte chunked body "hello" (RFC 9112 6.3 rule 3)
  GET  /conn         200 "<client port>\n"; with $CONNLOG set, every request
                     appends "<client port> <path>" to that file (which
                     connection of the proxy carried it)
  anything else      200 "NAME PATH\n" (which backend answered)
Keep-alive (HTTP/1.1) throughout.
"""
import os
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = sys.argv[2] if len(sys.argv) > 2 else "backend"
BLOCK = bytes(ord("a") + i % 26 for i in range(26 * 2521))  # 65546 bytes, a whole period count


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in separate writes: without TCP_NODELAY,
    # Nagle holds the body until the proxy's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def send_bytes(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        off = 0
        while off < n:
            at = off % 26
            k = min(n - off, len(BLOCK) - 26)
            self.wfile.write(BLOCK[at:at + k])
            off += k

    def do_HEAD(self):
        self.do_GET()

    def route(self):
        # the proxy keeps the route's prefix: strip the ones the tests use
        p = self.path
        for pre in ("/api/v2", "/api", "/one", "/b"):
            if p.startswith(pre + "/"):
                return p[len(pre):]
        return p

    def do_GET(self):
        p = self.route()
        if os.environ.get("CONNLOG"):
            with open(os.environ["CONNLOG"], "a") as f:
                f.write("%d %s\n" % (self.client_address[1], self.path))
        if p == "/te-cl":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
            return
        if p == "/conn":
            return self.reply(b"%d\n" % self.client_address[1])
        if p.startswith("/bytes/"):
            return self.send_bytes(int(p[7:]))
        if p.startswith("/chunked/"):
            n = int(p[9:])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Sum")
            self.end_headers()
            off = 0
            while off < n:
                k = min(n - off, 7000)
                data = bytes(ord("a") + (off + i) % 26 for i in range(k))
                self.wfile.write(b"%x;ext=1\r\n" % k + data + b"\r\n")
                off += k
            self.wfile.write(b"0\r\nX-Sum: none\r\n\r\n")
            return
        if p == "/headers":
            text = self.requestline + "\n" + str(self.headers)
            if os.environ.get("HDRLOG"):
                with open(os.environ["HDRLOG"], "a") as f:
                    f.write(text)
            return self.reply(text.encode())
        if p.startswith("/slow/"):
            time.sleep(float(p[6:]))
            return self.reply(b"slow\n")
        if p == "/close-mid":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if p == "/close-early":
            self.close_connection = True
            return
        if p == "/garbage":
            self.wfile.write(b"HTTP/1.1 abc\r\n\r\n")
            self.close_connection = True
            return
        self.reply(("%s %s\n" % (NAME, self.path)).encode())

    def do_POST(self):
        data = self.body()
        if self.route() == "/echo":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.reply(("%s %s %d\n" % (NAME, self.path, len(data))).encode())

    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
