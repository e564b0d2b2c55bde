"""Tiny real HTTP(S) servers for what the emulator does not do: TLS and cross-host redirects."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
def stub_server(*, tls: Any = None, redirect_to: str | None = None) -> Iterator[_StubServer]:
    """Serve answers to ``/api/session`` (or redirect everything) on loopback, optionally over TLS.

    :param tls: a ``trustme`` server certificate to serve HTTPS with.
    """
    server = _StubServer(redirect_to)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
