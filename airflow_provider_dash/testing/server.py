"""The Redash emulator's server: its life cycle (uvicorn in a thread on 127.0.0.1) and its knobs.

It builds the emulator's :class:`~.redash_state.RedashState` and the :class:`~.redash_app.RedashApp`
acting on it; the test-data methods come from :class:`~.redash_demo.RedashTestData`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from .clock import EmulatedClock
from .connections import counting_protocol_class
from .counters import Counters
from .faults import FaultConfig, FaultInjector
from .objects import ObjectStore
from .redash_app import RedashApp
from .redash_demo import RedashTestData
from .redash_jobs_engine import JobManager
from .redash_sql import ResultStore
from .redash_state import RedashState
from .scheduler import Scheduler
from .sqlite_database import Database

REDASH_VERSION = "26.3.0"


class _CountingTLSContext(ssl.SSLContext):
    """A server TLS context that counts handshakes as they begin (asyncio wraps one BIO per
    connection), so a test sees refused handshakes that never reach the HTTP layer."""

    counters: Counters

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.counters.tls_handshake_started()
        return super().wrap_bio(*args, **kwargs)


T = TypeVar("T")


class _InState(Generic[T]):
    """An attribute of the emulator that lives in its state (``path``: a part, or a part's attribute
    such as ``"jobs.job_ttl"``), so the app sees a change at once (``emu.faults = FaultInjector(...)``)."""

    def __init__(self, path: str = "", convert: Callable[[T], T] | None = None) -> None:
        self.path = path
        self.convert = convert

    def __set_name__(self, owner: type, name: str) -> None:
        self.path = self.path or name

    def _holder(self, obj: RedashEmulator) -> tuple[Any, str]:
        *parts, name = self.path.split(".")
        return functools.reduce(getattr, parts, obj.state), name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _InState[T]: ...
    @overload
    def __get__(self, obj: RedashEmulator, objtype: type | None = None) -> T: ...
    def __get__(self, obj: RedashEmulator | None, objtype: type | None = None) -> T | _InState[T]:
        if obj is None:
            return self
        holder, name = self._holder(obj)
        return getattr(holder, name)

    def __set__(self, obj: RedashEmulator, value: T) -> None:
        holder, name = self._holder(obj)
        setattr(holder, name, self.convert(value) if self.convert else value)


class RedashEmulator(RedashTestData):
    """An emulated Redash 26.3.0 server for tests, demos and benchmarks.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`)::

        with RedashEmulator(time_scale=10) as emu:
            requests.get(emu.url + "/api/queries", headers={"Authorization": f"Key {emu.user_key}"})

    :param host: address to listen on.
    :param port: port (0 = a free one; see :attr:`port` after start).
    :param seed: seed of the fault injector's random generator.
    :param time_scale: emulated seconds per real second (delays and cache ageing).
    :param workers: jobs that run at once; the others stay queued (status 1). 0 keeps every job queued.
    :param job_ttl: emulated seconds a finished job is remembered (then its id is unknown: 500).
    :param base_path: URL prefix the API is served under (``"/redash"``), or ``""``.
    :param demo_data: load the recorded server's demo objects (see :mod:`.demo`).
    :param user_key: the admin's API key (random by default).
    :param faults: initial fault configuration.
    :param ssl_certfile: serve HTTPS with this certificate (PEM, chain included); :attr:`url`
        then starts with ``https://``.
    :param ssl_keyfile: the certificate's private key (PEM), when not in ``ssl_certfile``.
    """

    clock = _InState[EmulatedClock]()
    counters = _InState[Counters]()
    faults = _InState[FaultInjector]()
    db = _InState[Database]()
    results = _InState[ResultStore]()
    objects = _InState[ObjectStore]()
    jobs = _InState[JobManager]()
    scheduler = _InState[Scheduler]()
    user_key = _InState[str]()
    #: The API key of a plain (non-admin) user: it cannot read data source options.
    plain_user_key = _InState[str]()
    version = _InState[str]()
    host = _InState[str]()
    port = _InState[int]()
    base_path = _InState[str]()
    _transports = _InState[dict[tuple[str, int], asyncio.BaseTransport]]("transports")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        workers: int = 2,
        job_ttl: float = 3600.0,
        base_path: str = "",
        demo_data: bool = True,
        user_key: str | None = None,
        faults: FaultConfig | None = None,
        version: str = REDASH_VERSION,
        sql_threads: int = 4,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
    ) -> None:
        self.ssl_certfile = os.fspath(ssl_certfile) if ssl_certfile is not None else None
        self.ssl_keyfile = os.fspath(ssl_keyfile) if ssl_keyfile is not None else None
        self.state = RedashState.create(
            seed=seed,
            time_scale=time_scale,
            workers=workers,
            job_ttl=job_ttl,
            faults=faults,
            sql_threads=sql_threads,
            user_key=user_key,
            version=version,
            host=host,
            port=port,
            scheme="https" if self.ssl_certfile else "http",
            base_path="/" + base_path.strip("/") if base_path.strip("/") else "",
        )
        self.app = RedashApp(self.state)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._config: Any = None
        self._up = False
        self._startup_error: BaseException | None = None
        if demo_data:
            self.load_demo()

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """:return: the base URL clients use (``http[s]://127.0.0.1:<port>[/base_path]``)."""
        return self.state.url

    base_url = url

    @property
    def is_up(self) -> bool:
        """:return: True while the emulator accepts connections."""
        return self._up

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.setblocking(False)
        return sock

    def start(self) -> RedashEmulator:
        """Start serving in a background thread. :return: self. :raises RuntimeError: if the
        server does not come up within 15 seconds."""
        import uvicorn

        if self._thread is not None:
            return self
        sock = self._bind()
        self.port = sock.getsockname()[1]
        self._config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http=counting_protocol_class(self),
            lifespan="off",
            access_log=False,
            log_level="warning",
            backlog=2048,
            limit_concurrency=None,
            timeout_keep_alive=120,
            timeout_graceful_shutdown=2,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
        )
        if self.ssl_certfile:
            self._config.load()  # builds uvicorn's TLS context; swap in one that counts handshakes
            context = _CountingTLSContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            context.counters = self.counters
            self._config.ssl = context
        self._server = uvicorn.Server(self._config)
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self.jobs.loop = self._loop
            self.scheduler.start()
            ready.set()
            try:
                await self._server.serve(sockets=[sock])
            finally:
                await self.scheduler.stop()

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:
                self._startup_error = exc
                ready.set()

        self._thread = threading.Thread(target=run, name=f"dash-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (self._server.started or self._startup_error):
            ready.wait(0.005)
            time.sleep(0.002)
        if not self._server.started:
            raise RuntimeError(f"the emulator did not start: {self._startup_error!r}")
        self._up = True
        return self

    def stop(self) -> None:
        """Stop serving and delete the database."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
            self._thread = None
        self._up = False
        self.db.close()

    def __enter__(self) -> RedashEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self, coro: Any, timeout: float = 10) -> Any:
        assert self._loop is not None, "the emulator is not running"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def go_down(self) -> None:
        """Stop listening and close open connections: clients get "connection refused"."""

        async def down() -> None:
            for server in list(self._server.servers):
                server.close()
            self._server.servers = []
            for transport in list(self._transports.values()):
                transport.close()

        self._call(down())
        self._up = False

    def come_up(self) -> None:
        """Listen again on the same port after :meth:`go_down`."""
        sock = self._bind()

        async def up() -> None:
            loop = asyncio.get_running_loop()
            factory = functools.partial(
                self._config.http_protocol_class,
                config=self._config,
                server_state=self._server.server_state,
                app_state=self._server.lifespan.state,
            )
            server = await loop.create_server(factory, sock=sock, ssl=self._config.ssl, backlog=self._config.backlog)
            self._server.servers.append(server)

        self._call(up())
        self._up = True

    # -- knobs ---------------------------------------------------------------------------------
    #: Emulated seconds per real second (delays, cache ageing, job expiry).
    time_scale = _InState[float]("clock.scale")
    #: An idle worker takes a new job before the execute request is answered, so the answer
    #: already says STARTED, as a real server with idle workers can (default False: QUEUED).
    jobs_start_at_once = _InState[bool]("jobs.start_at_once", convert=bool)
    #: Emulated seconds a finished job stays known.
    job_ttl = _InState[float]("jobs.job_ttl")

    @property
    def workers(self) -> int:
        """How many jobs run at once (others stay queued)."""
        return self.jobs.workers

    @workers.setter
    def workers(self, value: int) -> None:
        self.jobs.workers = value
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.jobs.pump)

    def set_query_delay(self, query_id: int, seconds: float | None) -> None:
        """Keep jobs of ``query_id`` started for ``seconds`` emulated seconds (None = only
        what ``pg_sleep(n)`` in its SQL asks). :raises KeyError: for an unknown query."""
        self.objects.queries[query_id].delay = seconds

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change the fault injection (see :class:`FaultConfig`). :return: the configuration."""
        return self.faults.configure(config, **changes)

    def clear_faults(self) -> None:
        """Turn every fault off."""
        self.faults.clear()

    def query_key(self, query_id: int) -> str:
        """:return: the API key of query ``query_id``."""
        return self.objects.queries[query_id].api_key

    def headers(self, key: str | None = None) -> dict[str, str]:
        """:return: an ``Authorization`` header with ``key`` (default: the user key)."""
        return {"Authorization": f"Key {key or self.user_key}"}

    def log_exception(self) -> None:
        """Log the exception being handled (a handler crashed: the client gets a 500)."""
        self.state.log_exception()
