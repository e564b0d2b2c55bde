"""The Redash emulator's query scheduler: queries with ``schedule.interval`` are refreshed by the server.

Follows ``query_scheduled_refresh.json``: a published query with ``{"interval": 60}`` ran shortly
after it was saved, then again once its latest result was ``interval`` seconds old; each run moves
the query's ``latest_query_data_id`` and the result's ``retrieved_at``. Intervals are emulated
seconds (``time_scale`` applies). Scheduled runs use the saved parameter defaults, as Redash's do.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from . import parameters as params
from .redash_sql import sleep_seconds

if TYPE_CHECKING:
    from .clock import EmulatedClock
    from .objects import ObjectStore, Query
    from .redash_jobs_engine import JobManager
    from .redash_sql import ResultStore

#: Real seconds between two looks at the schedules (Redash looks every 30 s; sooner here, so a
#: compressed clock is followed closely).
TICK_SECONDS = 0.05


class Scheduler:
    """Submits the scheduled queries that are due, from the emulator's event loop."""

    def __init__(self, objects: ObjectStore, results: ResultStore, jobs: JobManager, clock: EmulatedClock) -> None:
        self.objects = objects
        self.results = results
        self.jobs = jobs
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start looking at the schedules (call from the emulator's event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop looking at the schedules."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            for query in self.due():
                self.submit(query)
            await asyncio.sleep(TICK_SECONDS)

    @staticmethod
    def _interval(query: Query) -> float | None:
        schedule: Any = query.schedule
        interval = schedule.get("interval") if isinstance(schedule, dict) else None
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            return None
        return float(interval)

    def due(self) -> list[Query]:
        """:return: the scheduled queries whose latest result is at least ``interval`` old (or that
        never ran) and that have no run in flight."""
        now = self.clock.now()
        busy = {job.query_id for job in self.jobs.jobs() if job.live}
        found = []
        with self.objects.lock:
            for query in self.objects.queries.values():
                interval = self._interval(query)
                if interval is None or query.is_archived or query.id in busy:
                    continue
                meta = self.results.get(query.latest_query_data_id) if query.latest_query_data_id else None
                if meta is None or now - meta.retrieved_emul >= interval:
                    found.append(query)
        return found

    def submit(self, query: Query) -> None:
        """Run ``query`` as a scheduled run, with its saved parameter defaults."""
        defaults = {p["name"]: p.get("value") for p in query.parameters if p.get("name")}
        if params.missing_names(query.query, defaults):
            return  # Redash's scheduled run would fail the same way; nothing to refresh
        sql = params.substitute(query.query, defaults, query.parameters)
        delay = query.delay if query.delay is not None else sleep_seconds(sql)
        self.jobs.submit(sql, query.data_source_id, query.id, defaults, delay, scheduled=True)
