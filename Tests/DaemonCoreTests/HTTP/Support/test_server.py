#!/usr/bin/env python3
"""A small HTTP/1.1 server on 127.0.0.1 for HTTPClientTests (Python 3 stdlib only).

Usage: test_server.py LOG_FILE
Binds an ephemeral port on 127.0.0.1, prints "PORT\n" on stdout, then serves until
its stdin closes (the test process ended) or 60 s have passed, whichever is first.
Each request is appended to LOG_FILE as one JSON line: method, path, query (raw),
headers (lowercased names), body (UTF-8, invalid bytes replaced).

Answers per path:
  /json             200 application/json {"message": "hello", "items": [1, 2]}, X-Repeat twice
  /text             201 text/plain "plain text, ünïcode"
  /badjson          200 application/json "{not json"
  /status/NNN       NNN application/problem+json {"status": NNN}
  /slow             sleeps 3 s, then 200 "late"
  /big?bytes=N&pause_ms=P
                    N bytes (default 10 MiB) of "x", Content-Length set, written in 64 KiB
                    chunks with a pause of P ms after each; when done or cut off, the
                    bytes written go as one line to LOG_FILE.sent
  /redirect         302 to /json
  /loop/N           302 to /loop/N+1 (forever)
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

LIFETIME_SECONDS = 60
LOG_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def record(self, body):
        parts = urlsplit(self.path)
        entry = {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
        }
        with LOG_LOCK, open(self.server.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    def answer(self, status, content_type, body, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self.record(body)
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/json":
            payload = json.dumps({"message": "hello", "items": [1, 2]}).encode()
            self.answer(200, "application/json; charset=utf-8", payload, [("X-Repeat", "a"), ("X-Repeat", "b")])
        elif path == "/text":
            self.answer(201, "text/plain; charset=utf-8", "plain text, ünïcode".encode())
        elif path == "/badjson":
            self.answer(200, "application/json", b"{not json")
        elif path.startswith("/status/"):
            status = int(path[len("/status/"):])
            self.answer(status, "application/problem+json", json.dumps({"status": status}).encode())
        elif path == "/slow":
            time.sleep(3)
            self.answer(200, "text/plain", b"late")
        elif path == "/big":
            arguments = parse_qs(parts.query)
            size = int(arguments.get("bytes", [str(10 * 1024 * 1024)])[0])
            pause = float(arguments.get("pause_ms", ["0"])[0]) / 1000
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < size:
                    piece = chunk[: min(size - sent, len(chunk))]
                    self.wfile.write(piece)
                    sent += len(piece)
                    if pause:
                        time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            with LOG_LOCK, open(self.server.log_path + ".sent", "a", encoding="utf-8") as log:
                log.write("%d\n" % sent)
        elif path == "/redirect":
            self.answer(302, "text/plain", b"see /json", [("Location", "/json")])
        elif path.startswith("/loop/"):
            step = int(path[len("/loop/"):])
            self.answer(302, "text/plain", b"again", [("Location", "/loop/%d" % (step + 1))])
        else:
            self.answer(404, "text/plain", b"no such path")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.log_path = sys.argv[1]
    print(server.server_address[1], flush=True)

    def stop_when_parent_goes():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=stop_when_parent_goes, daemon=True).start()
    threading.Timer(LIFETIME_SECONDS, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
