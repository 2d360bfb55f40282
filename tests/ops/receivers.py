"""A real webhook endpoint on loopback playing an agency's dispatch system.

Like a real agency it keeps each message once by its Idempotency-Key, and it can fail on purpose:
`fail` answers 500, `hang` never answers in time, `flaky` fails the first N requests.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    def __init__(self, mode: str = "ok", fail_first: int = 0, port: int = 0) -> None:
        self.mode = mode
        self.fail_first = fail_first
        self.hits = 0
        self.messages: dict[str, dict] = {}  # idempotency key -> first body (what the agency keeps)
        self.arrivals: list[tuple[float, str]] = []  # (time, key) of every POST, replays included
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.lock:
                    outer.hits += 1
                    n = outer.hits
                if outer.mode == "hang":
                    time.sleep(5)
                if outer.mode == "fail" or n <= outer.fail_first:
                    self.send_response(500)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                key = self.headers.get("idempotency-key", "")
                with outer.lock:
                    outer.arrivals.append((time.time(), key))
                    outer.headers.append(dict(self.headers))
                    outer.messages.setdefault(key, json.loads(body))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    break
            time.sleep(0.02)
        with self.lock:
            return list(self.messages.values())


def wait_until(predicate, timeout: float = 10.0) -> bool:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
