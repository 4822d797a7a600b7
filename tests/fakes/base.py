"""A tiny threaded HTTP server with routing, request log and fault injection."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    form: dict = field(default_factory=dict)


@dataclass
class Fault:
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    body: str = '{"error": {"message": "injected failure"}}'


class FakeServer:
    """Subclasses register routes with ``route(method, regex, handler)``; handlers get
    (request, *groups) and return (status, body-dict-or-list, headers-dict?)."""

    def __init__(self):
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        self._down = False
        self._routes: list[tuple[str, re.Pattern, object]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler):
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        retry_after: float | None = None,
        delay: float = 0.0,
        body: dict | None = None,
    ):
        """The next ``n`` requests answer ``status`` (with ``Retry-After`` and ``body``, a JSON
        object, when given) instead of being served."""
        fault = Fault(status, retry_after, delay)
        if body is not None:
            fault.body = json.dumps(body)
        with self._lock:
            self._faults.extend(Fault(**vars(fault)) for _ in range(n))

    def down(self):
        self._down = True

    def up(self):
        self._down = False

    def reset_requests(self):
        with self._lock:
            self.requests.clear()

    def count(self, method: str, path_regex: str) -> int:
        rx = re.compile(path_regex)
        return sum(1 for r in self.requests if r.method == method and rx.search(r.path))

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes on a kept-alive connection: with Nagle's
            # algorithm on, the body waits for the client's delayed ACK of the headers (40 ms on
            # Linux), which made every fake call cost ~40 ms and the benchmarks measure that.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                fake._dispatch(self)

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- serving -------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler):
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        form = {}
        if body and "application/x-www-form-urlencoded" in (h.headers.get("Content-Type") or ""):
            form = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        req = Request(h.command, parts.path, query, {k.lower(): v for k, v in h.headers.items()}, body, form)
        with self._lock:
            self.requests.append(req)
            fault = self._faults.pop(0) if self._faults else None
        if self._down:
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return self._send(h, fault.status, fault.body, headers)
        for method, rx, handler in self._routes:
            m = rx.match(parts.path)
            if m and method == h.command:
                try:
                    result = handler(req, *m.groups())
                except Exception as exc:  # a bug in a fake should be loud, not a hang
                    return self._send(h, 500, json.dumps({"error": {"message": repr(exc)}}), {})
                status, payload = result[0], result[1]
                headers = result[2] if len(result) > 2 else {}
                return self._send(h, status, json.dumps(payload), headers)
        return self._send(h, 404, json.dumps({"error": {"message": f"no route {h.command} {parts.path}"}}), {})

    @staticmethod
    def _send(h, status: int, text: str, headers: dict):
        data = text.encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
