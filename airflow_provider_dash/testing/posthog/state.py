"""Everything one emulated PostHog holds, in one object the app and its handlers share.

The server builds a :class:`State` and hands it to the app; the app and handlers never see the
server, so imports run one way: server -> app -> handlers -> state and the modules below it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from airflow_provider_dash.testing.clock import EmulatedClock
from airflow_provider_dash.testing.counters import Counters
from airflow_provider_dash.testing.faults import FaultInjector
from airflow_provider_dash.testing.sqlite_database import Database

from . import errors
from .cache import QueryStatuses, ResultCache
from .executor import SqlRunner
from .inflight import InFlight
from .store import Store
from .throttle import ConcurrencyGate, Limits, Throttles

log = logging.getLogger("airflow_provider_dash.testing.posthog")

G3, G1 = "g3", "g1"

#: What :meth:`RunFaults.add` can make a run do instead of computing (§7 rule 19).
RUN_FAULTS = (*errors.GUARDRAIL_DETAILS, "query_capacity", "server_error", "connection_reset")


@dataclass
class Settings:
    """Behaviour that is not a limit.

    :param generation: ``"g3"`` (current server) or ``"g1"`` (the first, documented generation).
    :param default_row_cap: rows a run returns when neither its SQL nor the request set a limit (§9).
    :param max_row_cap: the most rows a SQL ``LIMIT`` can return.
    :param status_ttl: emulated seconds a G1 query status lives (20 minutes in current code).
    :param g1_pickup_delay: emulated seconds a G1 background recalculation stays queued.
    :param last_executed_interval: ``last_executed_at`` is updated at most this often (§2.9).
    :param next_refresh_seconds: ``next_allowed_client_refresh`` is ``last_refresh`` plus this.
    """

    generation: str = G3
    default_row_cap: int = 100
    max_row_cap: int = 50_000
    status_ttl: float = 1200.0
    g1_pickup_delay: float = 0.0
    last_executed_interval: float = 1800.0
    next_refresh_seconds: float = 60.0


class RunFaults:
    """Injected run outcomes, used up one per computed run (optionally of one endpoint only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[tuple[str, str | None]] = []

    def add(self, kind: str, count: int = 1, name: str | None = None) -> None:
        """Make the next ``count`` computed runs (of endpoint ``name``, or any) fail with ``kind``."""
        if kind not in RUN_FAULTS:
            raise ValueError(f"unknown run fault {kind!r}; one of {', '.join(RUN_FAULTS)}")
        with self._lock:
            self._queue.extend([(kind, name)] * count)

    def take(self, name: str) -> str | None:
        """:return: the fault the next run of ``name`` must show, or None."""
        with self._lock:
            for i, (kind, only) in enumerate(self._queue):
                if only is None or only == name:
                    del self._queue[i]
                    return kind
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._queue.clear()


class State:
    """The emulated server's state: settings, data, clocks, limits, runs in flight, caches, counters."""

    def __init__(
        self,
        settings: Settings,
        limits: Limits,
        clock: EmulatedClock,
        counters: Counters,
        faults: FaultInjector,
        db: Database,
        first_project_id: int,
    ) -> None:
        if settings.generation not in (G3, G1):
            raise ValueError(f"generation must be 'g3' or 'g1', not {settings.generation!r}")
        self.settings = settings
        self.limits = limits
        self.clock = clock
        self.counters = counters
        self.faults = faults
        self.db = db
        self.store = Store(first_project_id)
        self.sql = SqlRunner(db, self.now)
        self.throttles = Throttles(limits, clock)
        self.gate = ConcurrencyGate(limits, clock)
        self.inflight = InFlight()
        self.cache = ResultCache()
        self.statuses = QueryStatuses()
        self.run_faults = RunFaults()
        self._wall0 = dt.datetime.now(dt.UTC)

    @property
    def g1(self) -> bool:
        """:return: True when emulating the first generation."""
        return self.settings.generation == G1

    def now(self) -> dt.datetime:
        """:return: the emulated wall time (UTC): real start time plus emulated seconds since."""
        return self._wall0 + dt.timedelta(seconds=self.clock.now())

    def log_exception(self) -> None:
        """Log the exception being handled (a handler crashed: the client gets a 500)."""
        log.exception("PostHog emulator handler failed")
