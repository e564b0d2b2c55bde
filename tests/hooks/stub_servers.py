"""Tiny real HTTP servers for what the emulator does not do: cross-host redirects, and any answer at all
(a given status, headers and body, for property tests of the error mapping)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SESSION_BODY = {"user": {"id": 1, "name": "Admin"}, "client_config": {"version": "26.3.0"}}


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        if self.server.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(SESSION_BODY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, redirect_to: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.redirect_to = redirect_to
        self.seen: list[dict[str, Any]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def stub_server(*, redirect_to: str | None = None) -> Iterator[_StubServer]:
    """Serve answers to ``/api/session`` (or redirect everything to ``redirect_to``) on loopback."""
    server = _StubServer(redirect_to)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class CannedAnswer:
    """What a :func:`canned_server` answers to every request."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


#: The answer once a canned server's request budget is spent (a client looping on one answer).
BUDGET_SPENT = CannedAnswer(400, {"Content-Type": "application/json"}, b'{"message": "stub: request budget spent"}')


class _CannedHandler(BaseHTTPRequestHandler):
    server: _CannedServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        answer = self.server.take()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_DELETE = _answer


class _CannedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, budget: int) -> None:
        super().__init__(("127.0.0.1", 0), _CannedHandler)
        self._lock = threading.Lock()
        self._answer = CannedAnswer()
        self.budget = budget
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer_with(self, answer: CannedAnswer) -> None:
        """Answer every request with ``answer`` from now on, and restart the request count."""
        with self._lock:
            self._answer = answer
            self.requests = 0

    def take(self) -> CannedAnswer:
        """Count one request; return the answer for it (:data:`BUDGET_SPENT` past the budget)."""
        with self._lock:
            self.requests += 1
            return self._answer if self.requests <= self.budget else BUDGET_SPENT


@contextmanager
def canned_server(budget: int = 25) -> Iterator[_CannedServer]:
    """Serve one settable answer (:meth:`_CannedServer.answer_with`) to every GET, POST and DELETE.

    Every connection closes after its answer (HTTP/1.0), so a broken answer never spoils the next.

    :param budget: requests answered per :meth:`~_CannedServer.answer_with` before :data:`BUDGET_SPENT`,
        so a client that loops on one answer ends (with an error) instead of hanging the test.
    """
    server = _CannedServer(budget)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
