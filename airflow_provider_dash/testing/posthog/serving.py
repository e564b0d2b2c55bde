"""Serving an ASGI app with uvicorn in a background thread, stopping at once, dropping connections.

uvicorn's own main loop polls its exit flag every 0.1 s and its shutdown sleeps another 0.1 s;
here both wait on events, so an emulator per test costs milliseconds to stop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_dash.testing.connections import counting_protocol_class
from airflow_provider_dash.testing.counters import Counters


def _server_class(base: type[Any]) -> type[Any]:
    """:return: uvicorn's server whose main loop sleeps on an event and whose shutdown waits only
    while connections or tasks remain."""

    class EventServer(base):
        wake: asyncio.Event | None = None

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.config.timeout_graceful_shutdown
            while (self.server_state.connections or self.server_state.tasks) and loop.time() < deadline:
                await asyncio.sleep(0.002)  # waiting for open connections to finish, bounded by the deadline
            for task in self.server_state.tasks:
                task.cancel()
            for server in self.servers:
                await server.wait_closed()

        async def main_loop(self) -> None:
            counter = 0
            while not await self.on_tick(counter):  # on_tick refreshes the Date header every 10th tick
                counter = (counter + 10) % 864000
                assert self.wake is not None
                try:
                    await asyncio.wait_for(self.wake.wait(), 1.0)
                except TimeoutError:
                    pass

    return EventServer


class BackgroundServer:
    """One uvicorn server in a daemon thread, counting connections in ``counters``."""

    def __init__(self, host: str, port: int, counters: Counters) -> None:
        self.host = host
        self.port = port
        self.counters = counters
        self._transports: dict[tuple[str, int], asyncio.BaseTransport] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._startup_error: BaseException | None = None

    @property
    def running(self) -> bool:
        """:return: True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None

    def start(self, app: Any) -> int:
        """Serve ``app`` on (host, port). :return: the port (a free one when 0 was asked).

        :raises RuntimeError: if the server does not come up within 15 seconds.
        """
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            loop="asyncio",
            http=counting_protocol_class(self),
            lifespan="off",
            access_log=False,
            log_level="warning",
            limit_concurrency=None,
            timeout_keep_alive=120,
            timeout_graceful_shutdown=2,
        )
        self._server = _server_class(uvicorn.Server)(config)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._server.wake = asyncio.Event()
            await self._server.serve(sockets=[sock])

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:
                self._startup_error = exc

        self._thread = threading.Thread(target=run, name=f"posthog-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (self._server.started or self._startup_error):
            time.sleep(0.002)  # waiting for uvicorn's started flag, bounded by the deadline
        if not self._server.started:
            raise RuntimeError(f"the PostHog emulator did not start: {self._startup_error!r}")
        return self.port

    def stop(self, before_exit: Callable[[], None] | None = None) -> None:
        """Stop serving; ``before_exit`` runs in the loop first (to end held requests)."""
        if self._thread is None:
            return
        self._server.should_exit = True

        def wake() -> None:
            if before_exit is not None:
                before_exit()
            if self._server.wake is not None:
                self._server.wake.set()

        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(wake)
            except RuntimeError:  # the loop already ended
                pass
        self._thread.join(15)
        self._thread = None

    async def drop(self, scope: dict[str, Any]) -> None:
        """Close the connection of the request ``scope`` without answering (an injected reset)."""
        client = scope.get("client")
        transport = self._transports.get(tuple(client)) if client else None
        if transport is not None:
            transport.close()
        for _ in range(3):  # let connection_lost run, so the server does not answer on a closed socket
            await asyncio.sleep(0)
