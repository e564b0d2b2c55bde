"""The PostHog Endpoints emulator: a real HTTP server on 127.0.0.1, served by uvicorn in a thread.

It owns the knobs tests turn (tables, endpoints, keys, limits, faults, time); the HTTP side lives
in :mod:`.app` and the thread in :mod:`.serving`, neither of which imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from airflow_provider_dash.testing.clock import EmulatedClock
from airflow_provider_dash.testing.counters import Counters
from airflow_provider_dash.testing.faults import FaultConfig, FaultInjector
from airflow_provider_dash.testing.sqlite_database import Database

from . import crud, querydef, serialize
from .app import PostHogApp
from .serving import BackgroundServer
from .state import G3, Settings, State
from .store import ENDPOINT_READ, ENDPOINT_WRITE, PERSONAL, QUERY_READ, SECRET, Endpoint
from .throttle import Limits

#: The scopes of :attr:`PostHogEmulator.personal_key`: everything the Endpoints API needs.
DEFAULT_SCOPES = (ENDPOINT_READ, ENDPOINT_WRITE, QUERY_READ)


class PostHogEmulator:
    """An emulated PostHog serving the Endpoints API (REFERENCE.md §7), G3 by default, G1 on request.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`)::

        with PostHogEmulator() as emu:
            emu.add_table("signups", ["day", "country", "n"], rows)
            emu.add_endpoint("daily", "SELECT day, n FROM signups WHERE country = {variables.country}",
                             variables={"country": "US"})
            requests.post(emu.run_url("daily"), json={"variables": {"country": "DE"}}, headers=emu.headers())

    :param host: address to listen on.
    :param port: port (0 = a free one; see :attr:`port` after start).
    :param generation: ``"g3"`` (current server, default) or ``"g1"`` (the first generation, with
        G1.5's versions).
    :param seed: seed of the fault injector's random generator.
    :param time_scale: emulated seconds per real second (run delays, cache ageing, rate windows).
    :param limits: rate and concurrency limits (default: PostHog's).
    :param faults: initial transport-level fault configuration (see :class:`FaultConfig`).
    :param first_project_id: id of the first project (:attr:`project_id`).
    :param default_row_cap: rows a run returns when neither its SQL nor the request set a limit.
    :param sql_threads: threads running SQL.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        generation: str = G3,
        seed: int = 0,
        time_scale: float = 1.0,
        limits: Limits | None = None,
        faults: FaultConfig | None = None,
        first_project_id: int = 4242,
        default_row_cap: int = 100,
        sql_threads: int = 2,
    ) -> None:
        self.host = host
        self.port = port
        self.clock = EmulatedClock(time_scale)
        self.counters = Counters()
        self.faults = FaultInjector(seed=seed, config=faults or FaultConfig())
        self.db = Database(threads=max(sql_threads, 1))
        settings = Settings(generation=generation, default_row_cap=default_row_cap)
        self.state = State(
            settings, limits or Limits(), self.clock, self.counters, self.faults, self.db, first_project_id
        )
        store = self.state.store
        self.user = store.add_user("emulator@example.com")
        self.project_id = store.add_project("Default project").id
        self.personal_key = store.add_key(PERSONAL, DEFAULT_SCOPES, self.user).value
        self.secret_key = store.add_key(SECRET, (ENDPOINT_READ,), project_ids=[self.project_id]).value
        self._serving = BackgroundServer(host, port, self.counters)
        self.app = PostHogApp(self.state, self._serving.drop)

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """:return: the base URL clients use (``http://127.0.0.1:<port>``), like ``https://us.posthog.com``."""
        return f"http://{self.host}:{self.port}"

    @property
    def generation(self) -> str:
        """:return: ``"g3"`` or ``"g1"``."""
        return self.state.settings.generation

    def start(self) -> PostHogEmulator:
        """Start serving in a background thread. :return: self.
        :raises RuntimeError: if the server does not come up within 15 seconds."""
        if not self._serving.running:
            self.port = self._serving.start(self.app)
        return self

    def stop(self) -> None:
        """Stop serving (held runs end with their cancel answer) and delete the database."""
        self._serving.stop(before_exit=self._cancel_held_runs)
        self.db.close()

    def __enter__(self) -> PostHogEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _cancel_held_runs(self) -> None:
        for project_id in list(self.state.store.projects):
            for query_id in self.state.inflight.ids(project_id):
                self.state.inflight.cancel(project_id, query_id)

    # -- knobs ---------------------------------------------------------------------------------
    @property
    def time_scale(self) -> float:
        """Emulated seconds per real second."""
        return self.clock.scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        self.clock.scale = value

    @property
    def limits(self) -> Limits:
        """The rate and concurrency limits in force (change their fields at any time)."""
        return self.state.limits

    @property
    def settings(self) -> Settings:
        """Behaviour settings (row caps, status TTL, ...), changeable at any time."""
        return self.state.settings

    def advance(self, seconds: float) -> None:
        """Move emulated time ``seconds`` ahead at once (cache TTLs, status expiry, rate windows)."""
        self.clock.advance(seconds)

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change transport-level fault injection (see :class:`FaultConfig`). :return: the configuration."""
        return self.faults.configure(config, **changes)

    def clear_faults(self) -> None:
        """Turn every fault off (transport faults and pending run faults)."""
        self.faults.clear()
        self.state.run_faults.clear()

    def fail_next_runs(self, kind: str, count: int = 1, name: str | None = None) -> None:
        """Make the next ``count`` computed runs (of endpoint ``name``, or of any) fail with ``kind``:
        ``query_timeout``, ``query_memory_limit``, ``query_too_large``, ``query_estimated_too_slow``
        (400 ``server_error``), ``query_capacity`` (503), ``server_error`` (500) or ``connection_reset``."""
        self.state.run_faults.add(kind, count, name)

    def clear_cache(self) -> None:
        """Forget every cached run result."""
        self.state.cache.clear()

    def in_flight(self, project_id: int | None = None) -> list[str]:
        """:return: query ids (``client_query_id`` or generated) of runs being computed now."""
        return self.state.inflight.ids(project_id)

    # -- keys and projects ---------------------------------------------------------------------
    def headers(self, key: str | None = None) -> dict[str, str]:
        """:return: an ``Authorization: Bearer`` header with ``key`` (default: :attr:`personal_key`)."""
        return {"Authorization": f"Bearer {key or self.personal_key}"}

    def add_project(self, name: str = "") -> int:
        """:return: the id of a new project (the default personal key may use it)."""
        return self.state.store.add_project(name).id

    def add_personal_key(self, scopes: Iterable[str] = DEFAULT_SCOPES, project_ids: Iterable[int] | None = None) -> str:
        """:return: a new ``phx_`` key with ``scopes`` (``"*"`` = all), limited to ``project_ids`` if given."""
        return self.state.store.add_key(PERSONAL, scopes, self.user, project_ids).value

    def add_secret_key(self, project_id: int | None = None) -> str:
        """:return: a new project secret key (``phs_``, scope ``endpoint:read``) of ``project_id``."""
        pid = self.project_id if project_id is None else project_id
        return self.state.store.add_key(SECRET, (ENDPOINT_READ,), project_ids=[pid]).value

    def api_url(self, path: str = "", project_id: int | None = None, prefix: str = "projects") -> str:
        """:return: ``<url>/api/<prefix>/<project_id>/<path>``."""
        pid = self.project_id if project_id is None else project_id
        return f"{self.url}/api/{prefix}/{pid}/{path.lstrip('/')}"

    def run_url(self, name: str, project_id: int | None = None) -> str:
        """:return: the run URL of endpoint ``name``."""
        return self.api_url(f"endpoints/{name}/run/", project_id)

    # -- data for tests ------------------------------------------------------------------------
    def add_table(
        self, name: str, columns: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Any]] | str = ()
    ) -> None:
        """Create table ``name`` for HogQL to read and fill it.

        :param columns: column names, or (name, SQLite type) pairs.
        :param rows: an iterable of row tuples, or a SELECT statement whose rows are inserted.
        """
        cols = ", ".join(f'"{c}"' if isinstance(c, str) else f'"{c[0]}" {c[1]}' for c in columns)
        self.db.write(f'CREATE TABLE "{name}" ({cols})')
        if isinstance(rows, str):
            self.db.write(f'INSERT INTO "{name}" {rows}')
            return
        marks = ", ".join("?" for _ in columns)
        self.db.write(f'INSERT INTO "{name}" VALUES ({marks})', rows)

    def execute_sql(self, sql: str) -> None:
        """Run a writing SQL statement on the emulator's database (change data under an endpoint)."""
        self.db.write(sql)

    def add_endpoint(
        self,
        name: str,
        hogql: str | Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        data_freshness_seconds: int | None = None,
        cache_age_seconds: int | None = None,
        is_active: bool = True,
        materialized: bool = False,
        delay: float = 0.0,
        project_id: int | None = None,
        tags: Sequence[str] = (),
        optional_breakdown_properties: Sequence[str] = (),
        insight_results: Any = None,
    ) -> dict[str, Any]:
        """Create an endpoint as ``POST /endpoints/`` would (same checks).

        :param hogql: the SQL (with ``{variables.x}`` placeholders), or a whole query object (an
            insight query such as ``{"kind": "TrendsQuery", ...}``).
        :param variables: ``{code_name: default value}`` of the placeholders.
        :param delay: emulated seconds each computed run of it takes (cancel and concurrency tests).
        :param insight_results: what runs of an insight endpoint return: a value or ``f(variables)``.
        :return: the endpoint as ``GET /endpoints/{name}/`` shows it.
        :raises ApiError: when PostHog would refuse it (bad name, undefined variable, failing SQL...).
        """
        state = self.state
        query = querydef.hogql_query(hogql, variables) if isinstance(hogql, str) else dict(hogql)
        columns = crud.probe_columns(state, query)
        g1 = state.g1
        version = crud.new_version(
            state,
            query,
            columns,
            self.user,
            1,
            description,
            crud.check_freshness(data_freshness_seconds),
            cache_age=crud.check_cache_age(cache_age_seconds) if g1 else None,
        )
        if materialized:
            crud.check_materialize(is_active, version)
        pid = self.project_id if project_id is None else project_id
        crud.create(
            state,
            pid,
            name,
            version,
            self.user,
            is_active=is_active,
            tags=list(tags),
            optional_breakdown_properties=list(optional_breakdown_properties),
            delay=delay,
            insight_results=insight_results,
        )
        if materialized:
            crud.set_materialized(state, version, True)
        return self.endpoint(name, pid)

    def _endpoint(self, name: str, project_id: int | None = None) -> Endpoint:
        ep = self.state.store.live(self.project_id if project_id is None else project_id, name)
        if ep is None:
            raise KeyError(f"no endpoint {name!r}")
        return ep

    def endpoint(self, name: str, project_id: int | None = None) -> dict[str, Any]:
        """:return: endpoint ``name`` as the current generation's retrieve shows it. :raises KeyError: if unknown."""
        ep = self._endpoint(name, project_id)
        with self.state.store.lock:
            if self.state.g1:
                return serialize.endpoint_json_g1(ep)
            return serialize.endpoint_json(ep, self.url)

    def set_endpoint_delay(self, name: str, seconds: float, project_id: int | None = None) -> None:
        """Make every computed run of ``name`` take ``seconds`` emulated seconds."""
        self._endpoint(name, project_id).delay = seconds

    def set_insight_results(self, name: str, results: Any | Callable[[dict[str, Any]], Any]) -> None:
        """Set what runs of insight endpoint ``name`` return (a value, or ``f(variables)``)."""
        self._endpoint(name).insight_results = results

    def materialize(self, name: str, version: int | None = None) -> None:
        """Materialize a version of ``name`` now (default: the current one), like ``is_materialized: true``.

        :raises ApiError: when the endpoint is inactive or its query cannot be materialized.
        """
        ep = self._endpoint(name)
        target = ep.version(version) if version is not None else ep.current
        if target is None:
            raise KeyError(f"endpoint {name!r} has no version {version}")
        crud.check_materialize(ep.is_active, target)
        crud.set_materialized(self.state, target, True)

    def remove_versions(self, name: str) -> None:
        """Drop every version row of ``name`` (a legacy endpoint: runs answer "No version found")."""
        ep = self._endpoint(name)
        with self.state.store.lock:
            ep.versions.clear()
