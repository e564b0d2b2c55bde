"""The Redash emulator: a real HTTP server on 127.0.0.1, served by uvicorn in a thread."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from . import demo
from .clock import EmulatedClock
from .connections import counting_protocol_class
from .counters import Counters
from .engine import Database, JobManager, ResultMeta, ResultStore
from .faults import FaultConfig, FaultInjector
from .objects import ObjectStore, new_api_key
from .routes import RedashApp
from .scheduler import Scheduler

log = logging.getLogger("airflow_provider_dash.testing")

REDASH_VERSION = "26.3.0"


class _CountingTLSContext(ssl.SSLContext):
    """A server TLS context that counts handshakes as they begin (asyncio wraps one BIO per
    connection), so a test sees refused handshakes that never reach the HTTP layer."""

    counters: Counters

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.counters.tls_handshake_started()
        return super().wrap_bio(*args, **kwargs)


class RedashEmulator:
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
        self.host = host
        self.ssl_certfile = os.fspath(ssl_certfile) if ssl_certfile is not None else None
        self.ssl_keyfile = os.fspath(ssl_keyfile) if ssl_keyfile is not None else None
        self.port = port
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.version = version
        self.user_key = user_key or new_api_key()
        #: The API key of a plain (non-admin) user: it cannot read data source options.
        self.plain_user_key = new_api_key()
        self.clock = EmulatedClock(time_scale)
        self.counters = Counters()
        self.faults = FaultInjector(seed=seed, config=faults or FaultConfig())
        self.db = Database(threads=max(sql_threads, 1))
        self.results = ResultStore(self.db, self.clock)
        self.objects = ObjectStore()
        self.objects.result_lookup = self.results.get
        self.jobs = JobManager(self.results, self.clock, self.counters, workers, job_ttl, self._on_result)
        self.scheduler = Scheduler(self.objects, self.results, self.jobs, self.clock)
        self.app = RedashApp(self)
        self._transports: dict[tuple[str, int], asyncio.BaseTransport] = {}
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
        scheme = "https" if self.ssl_certfile else "http"
        return f"{scheme}://{self.host}:{self.port}{self.base_path}"

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
    @property
    def time_scale(self) -> float:
        """Emulated seconds per real second (delays, cache ageing, job expiry)."""
        return self.clock.scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        self.clock.scale = value

    @property
    def workers(self) -> int:
        """How many jobs run at once (others stay queued)."""
        return self.jobs.workers

    @workers.setter
    def workers(self, value: int) -> None:
        self.jobs.workers = value
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.jobs.pump)

    @property
    def jobs_start_at_once(self) -> bool:
        """An idle worker takes a new job before the execute request is answered, so the answer
        already says STARTED, as a real server with idle workers can (default False: QUEUED)."""
        return self.jobs.start_at_once

    @jobs_start_at_once.setter
    def jobs_start_at_once(self, value: bool) -> None:
        self.jobs.start_at_once = bool(value)

    @property
    def job_ttl(self) -> float:
        """Emulated seconds a finished job stays known."""
        return self.jobs.job_ttl

    @job_ttl.setter
    def job_ttl(self, value: float) -> None:
        self.jobs.job_ttl = value

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
        log.exception("emulator handler failed")

    # -- data for tests ------------------------------------------------------------------------
    def add_table(
        self, name: str, columns: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Any]] | str = ()
    ) -> None:
        """Create table ``name`` and fill it.

        :param columns: column names, or (name, SQLite type) pairs.
        :param rows: an iterable of row tuples (inserted in batches), or a SELECT statement whose
            rows are inserted (e.g. a recursive CTE making a million rows in SQLite itself).
        """
        cols = ", ".join(f'"{c}"' if isinstance(c, str) else f'"{c[0]}" {c[1]}' for c in columns)
        self.db.write(f'CREATE TABLE "{name}" ({cols})')
        if isinstance(rows, str):
            self.db.write(f'INSERT INTO "{name}" {rows}')
            return
        marks = ", ".join("?" for _ in columns)
        self.db.write(f'INSERT INTO "{name}" VALUES ({marks})', rows)

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL on the emulator's database directly. :return: the rows."""
        conn = self.db.connect()
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def add_query(
        self,
        name: str,
        sql: str,
        parameters: list[dict[str, Any]] | None = None,
        *,
        delay: float | None = None,
        data_source_id: int = 1,
        description: str | None = None,
        tags: list[str] | None = None,
        is_draft: bool = False,
        is_archived: bool = False,
    ) -> int:
        """Save a query (published unless ``is_draft``). :return: its id."""
        options: dict[str, Any] = {"parameters": list(parameters)} if parameters else {}
        query = self.objects.add_query(
            name,
            sql,
            data_source_id,
            description=description,
            options=options,
            tags=list(tags or []),
            is_draft=is_draft,
            is_archived=is_archived,
            delay=delay,
        )
        return query.id

    def add_dashboard(
        self,
        name: str,
        widgets: Iterable[int | str | dict[str, Any]] = (),
        *,
        is_draft: bool = False,
        tags: list[str] | None = None,
        version: int = 1,
    ) -> int:
        """Save a dashboard with widgets. :return: its id.

        :param widgets: each a query id (its first visualization), a text (a text widget), or a
            dict with ``query_id`` or ``visualization_id``, optional ``parameterMappings`` and
            ``text``. Widgets are laid out two per row.
        """
        objs = self.objects
        with objs.lock:
            dashboard = objs.add_dashboard(name, is_draft=is_draft, tags=list(tags or []), version=version)
            for index, spec in enumerate(widgets):
                col, row = (index % 2) * 3, (index // 2) * 8
                if isinstance(spec, str):
                    objs.add_widget(dashboard.id, None, text=spec, options=demo.widget_options(col, row, 3, None))
                    continue
                item: dict[str, Any] = {"query_id": spec} if isinstance(spec, int) else dict(spec)
                viz_id = item.get("visualization_id")
                if viz_id is None and item.get("query_id") is not None:
                    viz_id = min(v.id for v in objs.visualizations.values() if v.query_id == item["query_id"])
                mappings = item.get("parameterMappings", {}) if viz_id is not None else None
                objs.add_widget(
                    dashboard.id,
                    viz_id,
                    text=str(item.get("text", "")),
                    options=demo.widget_options(col, row, 8, mappings),
                )
            return dashboard.id

    def seed_result(
        self, query_id: int | None = None, sql: str | None = None, *, age: float = 0.0, data_source_id: int = 1
    ) -> int:
        """Compute a result now, synchronously, as if it ran ``age`` emulated seconds ago (it
        becomes the latest result of every query with the same text). :return: its id."""
        if query_id is not None:
            query = self.objects.queries[query_id]
            sql, data_source_id = query.query, query.data_source_id
        assert sql is not None, "give query_id or sql"
        started = time.perf_counter()
        table, columns, count = self.results.run_sql(sql)
        meta = self.results.store(sql, data_source_id, table, columns, count, time.perf_counter() - started, age=age)
        self._on_result(meta)
        return meta.id

    def job(self, job_id: str) -> dict[str, Any] | None:
        """:return: the job as ``GET /api/jobs/<id>`` shows it, or None if unknown."""
        found = self.jobs.get(job_id)
        return found.to_json() if found else None

    def _on_result(self, meta: ResultMeta) -> None:
        with self.objects.lock:
            for query in self.objects.queries.values():
                if query.data_source_id == meta.data_source_id and query.query_hash == meta.query_hash:
                    query.latest_query_data_id = meta.id

    def load_demo(self) -> None:
        """Load the recorded server's demo objects and the ``orders`` table."""
        objs = self.objects
        objs.add_data_source(
            "sample-pg",
            "pg",
            {"host": "127.0.0.1", "port": 5433, "user": "sample_ro", "password": "secret", "dbname": "sampledb"},
        )
        self.add_table(
            "orders",
            [
                ("id", "INTEGER PRIMARY KEY"),
                ("customer", "TEXT"),
                ("region", "TEXT"),
                ("amount", "REAL"),
                ("quantity", "INTEGER"),
                ("created_at", "TEXT"),
                ("order_date", "TEXT"),
            ],
            demo.order_rows(300),
        )
        for spec in demo.QUERIES:
            fields = dict(spec)
            objs.add_query(
                fields.pop("name"),
                fields.pop("query"),
                1,
                description=fields.pop("description"),
                options=fields.pop("options"),
                is_draft=False,
                **fields,
            )
        objs.add_visualization(
            5,
            type="CHART",
            name="Total by region (bar)",
            options={
                "globalSeriesType": "column",
                "columnMapping": {"region": "x", "total": "y"},
                "legend": {"enabled": True},
            },
        )
        sales = objs.add_dashboard("Sales Overview", is_draft=False, version=2)
        for viz_id, col, row, size_y, extra in demo.SALES_WIDGETS:
            if viz_id is None:
                objs.add_widget(sales.id, None, text=str(extra), options=demo.widget_options(col, row, size_y, None))
            else:
                objs.add_widget(sales.id, viz_id, options=demo.widget_options(col, row, size_y, dict(extra)))
        objs.add_dashboard("Throwaway dashboard", is_archived=True, version=2)
        objs.add_dashboard("Ops dashboard")
        objs.add_dashboard("Finance dashboard")
        # Query 1 has a cached result from an hour (emulated) ago, like the recorded server had.
        result_id = self.seed_result(1, age=3600)
        objs.queries[8].latest_query_data_id = result_id
