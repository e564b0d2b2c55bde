"""The Redash emulator's jobs: the queue, the workers, dedup of identical SQL, cancel and expiry.

Emulated delays (``pg_sleep(n)`` in the SQL or a query's set delay) are asyncio timers, so a slow job
costs nothing while it "runs"; its SQL runs in the database's thread pool, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .redash_sql import pg_style_error, query_hash
from .redash_time import iso_ms, utcnow

if TYPE_CHECKING:
    from .clock import EmulatedClock
    from .counters import Counters
    from .redash_sql import ResultMeta, ResultStore

QUEUED, STARTED, FINISHED, FAILED = 1, 2, 3, 4
CANCELLED_MESSAGE = "Query cancelled by user."


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclass
class Job:
    """One query execution as Redash's job API shows it."""

    id: str
    query_id: int | None
    sql: str
    data_source_id: int
    query_hash: str
    parameters: dict[str, Any]
    delay: float
    run_text: str = ""
    status: int = QUEUED
    error: str = ""
    result_id: int | None = None
    started_at: dt.datetime | None = None
    finished_emul: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def live(self) -> bool:
        """:return: True while queued or running."""
        return self.status in (QUEUED, STARTED)

    def to_json(self) -> dict[str, Any]:
        """:return: the ``job`` object of Redash's answers."""
        updated: Any = iso_ms(self.started_at, zulu=False) if self.status == STARTED and self.started_at else 0
        return {
            "id": self.id,
            "updated_at": updated,
            "status": self.status,
            "error": self.error,
            "result": self.result_id,
            "query_result_id": self.result_id,
        }


class JobManager:
    """Queues, runs, deduplicates, cancels and expires jobs. Used from the server's event loop."""

    def __init__(
        self,
        results: ResultStore,
        clock: EmulatedClock,
        counters: Counters,
        workers: int,
        job_ttl: float,
        on_result: Callable[[ResultMeta], None],
    ) -> None:
        self.results = results
        self.clock = clock
        self.counters = counters
        self.workers = workers
        self.job_ttl = job_ttl
        self._on_result = on_result
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._live_by_key: dict[tuple[int, str], str] = {}
        self._queue: collections.deque[Job] = collections.deque()
        self._running = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        #: An idle worker takes a new job before the execute request is answered, so the answer
        #: already says STARTED (a real server with idle workers can do that).
        self.start_at_once = False

    def _expire(self) -> None:
        now = self.clock.now()
        for job_id in [
            j.id for j in self._jobs.values() if j.finished_emul is not None and now - j.finished_emul > self.job_ttl
        ]:
            del self._jobs[job_id]

    def get(self, job_id: str) -> Job | None:
        """:return: the job, or None when unknown or expired."""
        with self._lock:
            job = self._jobs.get(job_id)
            if (
                job is not None
                and job.finished_emul is not None
                and self.clock.now() - job.finished_emul > self.job_ttl
            ):
                del self._jobs[job_id]
                return None
            return job

    def jobs(self) -> list[Job]:
        """:return: every job still remembered."""
        with self._lock:
            self._expire()
            return list(self._jobs.values())

    def submit(
        self,
        sql: str,
        data_source_id: int,
        query_id: int | None,
        parameters: dict[str, Any],
        delay: float,
        user: str = "admin@example.com",
        scheduled: bool = False,
    ) -> Job:
        """Queue ``sql`` unless the same text already runs on this data source.

        :return: the new job, or the live job for the same text (not counted as an execution).
        """
        qhash = query_hash(sql)
        with self._lock:
            live_id = self._live_by_key.get((data_source_id, qhash))
            if live_id is not None and live_id in self._jobs and self._jobs[live_id].live:
                return self._jobs[live_id]
            if len(self._jobs) > 1000:
                self._expire()
            job = Job(
                id=str(uuid.uuid4()),
                query_id=query_id,
                sql=sql,
                data_source_id=data_source_id,
                query_hash=qhash,
                parameters=parameters,
                delay=delay,
            )
            # Redash prefixes the SQL it runs with this comment; error texts point into it.
            job.run_text = (
                f"/* Username: {user}, query_id: {query_id if query_id is not None else 'adhoc'}, Queue: queries, "
                f"Job ID: {job.id}, Query Hash: {qhash}, Scheduled: {scheduled} */ {sql}"
            )
            self._jobs[job.id] = job
            self._live_by_key[(data_source_id, qhash)] = job.id
            self._queue.append(job)
            self.counters.record_execution(query_id, parameters)
            self.counters.job_started_waiting()
        assert self.loop is not None
        if self.start_at_once and _running_loop() is self.loop:
            self.pump()
        else:
            self.loop.call_soon_threadsafe(self.pump)
        return job

    def pump(self) -> None:
        """Start queued jobs while fewer than ``workers`` run (event-loop thread; 0 workers keeps
        every job queued)."""
        with self._lock:
            while self._queue and self._running < self.workers:
                job = self._queue.popleft()
                if job.status != QUEUED:
                    continue
                job.status = STARTED
                job.started_at = utcnow()
                self._running += 1
                assert self.loop is not None
                job.task = self.loop.create_task(self._run(job))

    def _finish(self, job: Job, status: int, error: str = "", result_id: int | None = None) -> None:
        with self._lock:
            if not job.live:
                return
            job.status, job.error, job.result_id = status, error, result_id
            job.finished_emul = self.clock.now()
            if self._live_by_key.get((job.data_source_id, job.query_hash)) == job.id:
                del self._live_by_key[(job.data_source_id, job.query_hash)]
            self.counters.job_done()

    async def _run(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            if job.delay > 0:
                await asyncio.sleep(self.clock.real_seconds(job.delay))
            table, columns, count = await loop.run_in_executor(
                self.results.db.executor, self.results.run_sql, job.run_text or job.sql
            )
            if not job.live:
                return
            runtime = time.perf_counter() - started
            meta = self.results.store(job.sql, job.data_source_id, table, columns, count, runtime)
            self._finish(job, FINISHED, result_id=meta.id)
            self._on_result(meta)
        except asyncio.CancelledError:
            self._finish(job, FAILED, CANCELLED_MESSAGE)
        except sqlite3.Error as exc:
            self._finish(job, FAILED, pg_style_error(exc, job.run_text or job.sql))
        except Exception as exc:
            self._finish(job, FAILED, str(exc))
        finally:
            with self._lock:
                self._running -= 1
            self.pump()

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job.

        :return: False when the job is unknown or already finished (Redash then answers 500).
        """
        with self._lock:
            job = self.get(job_id)
            if job is None or not job.live:
                return False
            was_running = job.status == STARTED
            self._finish(job, FAILED, CANCELLED_MESSAGE)
            if was_running and job.task is not None:
                job.task.cancel()
            return True
