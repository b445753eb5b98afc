#!/usr/bin/env python3
"""A recording HTTP server on 127.0.0.1 for the connector end-to-end tests.

Usage: connector_server.py LOG_FILE
Prints "PORT\n", serves until stdin closes or 60 s pass. Each request is appended to
LOG_FILE as a JSON line: method, path (raw, still percent-encoded), query, headers
(lowercased names), body. Answers: a path containing /ratelimit gets 429 with
Retry-After: 1 the first time, then 200; /fail gets 500 with a text body; a body
naming channel "#nope" gets 200 with Slack's {"ok": false, "error": ...}; anything
else 200 application/json with fields every built-in output mapping reads.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOCK = threading.Lock()
SEEN = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        entry = {"method": self.command, "path": parts.path, "query": parts.query,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body.decode("utf-8", errors="replace")}
        with LOCK:
            with open(sys.argv[1], "a") as log:
                log.write(json.dumps(entry) + "\n")
            first = parts.path not in SEEN
            SEEN.add(parts.path)
        if "/ratelimit" in parts.path and first:
            self.answer(429, b'{"error": "slow down"}', {"Retry-After": "1"})
        elif b'"#nope"' in body:
            self.answer(200, b'{"ok": false, "error": "channel_not_found"}')
        elif "/fail" in parts.path:
            self.answer(500, b"internal trouble\nsecond line", {"Content-Type": "text/plain"})
        else:
            self.answer(200, json.dumps({"ok": True, "channel": "C1", "ts": "1.5", "id": "rec1",
                                         "fields": {"Name": "x"}, "records": [{"id": "rec1"}],
                                         "updates": {"updatedRange": "Sheet1!A2:B2", "updatedRows": 1}}).encode())

    def answer(self, status, body, headers=None):
        self.send_response(status)
        headers = headers or {}
        headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    watcher = threading.Thread(target=sys.stdin.read, daemon=True)
    watcher.start()
    watcher.join(60)
    server.shutdown()


if __name__ == "__main__":
    main()
