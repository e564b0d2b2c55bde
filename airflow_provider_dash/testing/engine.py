"""The execution engine: SQLite as the data source, stored results, jobs, cache and dedup.

SQL runs in a small thread pool (one SQLite connection per thread, WAL mode) so the event loop
never blocks. Emulated delays (``pg_sleep(n)`` in the SQL or :meth:`JobManager.set_delay`) are
asyncio timers, so a slow job costs nothing while it "runs". Results are stored as SQLite tables
and streamed from a cursor when downloaded, so a million-row result is never held in memory.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import hashlib
import itertools
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .clock import EmulatedClock
from .counters import Counters

QUEUED, STARTED, FINISHED, FAILED = 1, 2, 3, 4
CANCELLED_MESSAGE = "Query cancelled by user."

_COMMENTS = re.compile(r"/\*.*?\*/", re.DOTALL)
_PG_SLEEP = re.compile(r"pg_sleep\s*\(\s*([0-9]*\.?[0-9]+)\s*\)", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_ROW_BATCH = 2000


def query_hash(sql: str) -> str:
    """:return: Redash's hash of a query text (comments and whitespace ignored)."""
    text = "".join(_COMMENTS.sub("", sql).split())
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sleep_seconds(sql: str) -> float:
    """:return: the emulated seconds ``pg_sleep(n)`` calls in ``sql`` add up to."""
    return sum(float(m.group(1)) for m in _PG_SLEEP.finditer(sql))


def iso_ms(moment: dt.datetime, zulu: bool = True) -> str:
    """:return: ``moment`` as ISO 8601 with milliseconds (and ``Z`` when ``zulu``)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return text + "Z" if zulu else text


def utcnow() -> dt.datetime:
    """:return: the current UTC time without tzinfo."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _pg_style_error(exc: Exception, sql: str) -> str:
    """:return: an error text shaped like Postgres's (Redash shows the database's message)."""
    message = str(exc)
    match = re.match(r"no such column: (.+)", message)
    if match:
        name = match.group(1)
        line = sql.replace("\n", " ")
        pos = line.find(name)
        excerpt = line[max(0, pos - 60) : pos + 20]
        prefix = "LINE 1: " + ("..." if pos > 60 else "")
        caret = " " * (len(prefix) + min(pos, 60)) + "^"
        return f'column "{name}" does not exist\n{prefix}{excerpt}...\n{caret}\n'
    match = re.match(r"no such table: (.+)", message)
    if match:
        return f'relation "{match.group(1)}" does not exist\n'
    return message


@dataclass
class ResultMeta:
    """One stored query result (the rows live in SQLite table ``table``)."""

    id: int
    query_hash: str
    query: str
    data_source_id: int
    columns: list[dict[str, Any]]
    row_count: int
    runtime: float
    retrieved_at: dt.datetime
    retrieved_emul: float
    table: str

    def head(self) -> dict[str, Any]:
        """:return: the fields before ``data`` in Redash's order."""
        return {"id": self.id, "query_hash": self.query_hash, "query": self.query}

    def tail(self) -> dict[str, Any]:
        """:return: the fields after ``data`` in Redash's order."""
        return {
            "data_source_id": self.data_source_id,
            "runtime": self.runtime,
            "retrieved_at": iso_ms(self.retrieved_at),
        }


def _sqlite_pg_sleep(_seconds: Any) -> str:
    # The delay is emulated with an asyncio timer by the job; here it only returns void ("").
    return ""


class Database:
    """A temporary SQLite database file shared by all emulated data sources."""

    def __init__(self, threads: int = 4) -> None:
        self._dir = tempfile.mkdtemp(prefix="dash-emulator-")
        self.path = os.path.join(self._dir, "data.sqlite")
        # Every statement that writes or changes the schema runs under this lock, on the one writer
        # connection. Concurrent DDL from several connections made SQLite give up re-preparing
        # statements ("database schema has changed") when ~1,000 jobs finished within a second, and
        # each connection had to reload the whole schema after every other one's CREATE TABLE.
        # SQLite admits one writer at a time anyway.
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dash-emu-sql")
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")

    def connect(self, same_thread: bool = True) -> sqlite3.Connection:
        """:return: a new connection to the database (caller closes it)."""
        conn = sqlite3.connect(self.path, timeout=60, check_same_thread=same_thread, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA busy_timeout=60000")
        conn.create_function("pg_sleep", 1, _sqlite_pg_sleep)
        return conn

    @property
    def write_lock(self) -> threading.Lock:
        """The lock serialising writes and schema changes; hold it to use :meth:`writer`."""
        return self._write_lock

    def writer(self) -> sqlite3.Connection:
        """:return: the one connection that writes (use it only while holding :attr:`write_lock`)."""
        if self._writer is None:
            self._writer = self.connect(same_thread=False)
            with self._all_lock:
                self._all.append(self._writer)
        return self._writer

    def write(self, sql: str, rows: Iterable[Sequence[Any]] | None = None) -> None:
        """Run one writing statement (with ``executemany`` rows when given), serialised."""
        with self._write_lock:
            conn = self.writer()
            conn.execute("BEGIN")
            try:
                if rows is None:
                    conn.execute(sql)
                else:
                    it = iter(rows)
                    while batch := list(itertools.islice(it, 10000)):
                        conn.executemany(sql, batch)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def script(self, sql: str) -> None:
        """Run a multi-statement script (setup only), serialised."""
        with self._write_lock:
            self.writer().executescript(sql)

    def close(self) -> None:
        """Close every connection and delete the file."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:  # pragma: no cover - closing only
                    pass
            self._all.clear()
        shutil.rmtree(self._dir, ignore_errors=True)


def _column_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        if _DATE.match(value):
            return "date"
        if _DATETIME.match(value):
            return "datetime"
    return None


class ResultStore:
    """Stored query results and the cache lookup by (query hash, data source, max_age)."""

    def __init__(self, db: Database, clock: EmulatedClock) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.Lock()
        self._results: dict[int, ResultMeta] = {}
        self._ids = itertools.count(1)

    def run_sql(self, sql: str) -> tuple[str, list[dict[str, Any]], int]:
        """Run ``sql`` into a new result table (in a worker thread).

        The table is created and read back on the writer connection under the write lock (see
        :class:`Database`): SQLite serialises writers anyway.

        :return: (table name, columns, row count).
        :raises sqlite3.Error: when the SQL fails.
        """
        with self.db.write_lock:
            return self._run_sql(sql)

    def _run_sql(self, sql: str) -> tuple[str, list[dict[str, Any]], int]:
        conn = self.db.writer()
        body = sql.strip().rstrip(";").strip()
        table = "_qr_" + uuid.uuid4().hex
        try:
            conn.execute(f'CREATE TABLE "{table}" AS SELECT * FROM ({body}\n)')
        except sqlite3.OperationalError:
            cursor = conn.execute(body)  # raises the statement's own error, if it has one
            names = [d[0] for d in cursor.description or []]
            cols = ", ".join(f'"{n}"' for n in names) or '"_"'
            conn.execute(f'CREATE TABLE "{table}" ({cols})')
            marks = ", ".join("?" for _ in names)
            conn.execute("BEGIN")
            while batch := cursor.fetchmany(_ROW_BATCH):
                conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', batch)
            conn.execute("COMMIT")
        cursor = conn.execute(f'SELECT * FROM "{table}" LIMIT 500')
        names = [d[0] for d in cursor.description or []]
        sample = cursor.fetchall()
        columns = []
        for i, name in enumerate(names):
            kind = next((_column_type(r[i]) for r in sample if r[i] is not None), None)
            columns.append({"name": name, "friendly_name": name, "type": kind})
        count = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        return table, columns, int(count)

    def store(
        self,
        sql: str,
        data_source_id: int,
        table: str,
        columns: list[dict[str, Any]],
        count: int,
        runtime: float,
        age: float = 0.0,
    ) -> ResultMeta:
        """Register a computed result (``age`` emulated seconds old). :return: its metadata."""
        with self._lock:
            meta = ResultMeta(
                id=next(self._ids),
                query_hash=query_hash(sql),
                query=sql,
                data_source_id=data_source_id,
                columns=columns,
                row_count=count,
                runtime=runtime,
                retrieved_at=utcnow() - dt.timedelta(seconds=age),
                retrieved_emul=self.clock.now() - age,
                table=table,
            )
            self._results[meta.id] = meta
            return meta

    def get(self, result_id: int) -> ResultMeta | None:
        """:return: the result with this id, or None."""
        with self._lock:
            return self._results.get(result_id)

    def latest(self, qhash: str, data_source_id: int, max_age: float) -> ResultMeta | None:
        """:return: the newest result of this text at most ``max_age`` emulated seconds old
        (-1 = any age), or None."""
        now = self.clock.now()
        with self._lock:
            found = [
                r
                for r in self._results.values()
                if r.query_hash == qhash
                and r.data_source_id == data_source_id
                and (max_age < 0 or now - r.retrieved_emul <= max_age)
            ]
        return max(found, key=lambda r: (r.retrieved_emul, r.id), default=None)

    # -- reading rows --------------------------------------------------------------------------
    def iter_rows(self, meta: ResultMeta) -> Iterator[list[tuple[Any, ...]]]:
        """:return: batches of raw rows in stored order (opens its own connection)."""
        conn = self.db.connect(same_thread=False)
        try:
            cursor = conn.execute(f'SELECT * FROM "{meta.table}" ORDER BY rowid')
            while batch := cursor.fetchmany(_ROW_BATCH):
                yield batch
        finally:
            conn.close()

    @staticmethod
    def _json_value(value: Any, kind: str | None) -> Any:
        if kind == "datetime" and isinstance(value, str):
            return value.replace(" ", "T", 1)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value

    def rows_as_dicts(self, meta: ResultMeta) -> list[dict[str, Any]]:
        """:return: every row as a dict (small results only)."""
        names = [c["name"] for c in meta.columns]
        kinds = [c["type"] for c in meta.columns]
        out = []
        for batch in self.iter_rows(meta):
            for row in batch:
                out.append({n: self._json_value(v, k) for n, v, k in zip(names, row, kinds, strict=False)})
        return out

    def json_chunks(self, meta: ResultMeta) -> Iterator[bytes]:
        """:return: ``{"query_result": ...}`` as JSON, a batch of rows per chunk."""
        head = json.dumps(meta.head())[:-1]
        yield (f'{{"query_result": {head}, "data": {{"columns": {json.dumps(meta.columns)}, "rows": [').encode()
        names = [c["name"] for c in meta.columns]
        kinds = [c["type"] for c in meta.columns]
        first = True
        for batch in self.iter_rows(meta):
            parts = [
                json.dumps({n: self._json_value(v, k) for n, v, k in zip(names, row, kinds, strict=False)})
                for row in batch
            ]
            text = ", ".join(parts)
            yield (text if first else ", " + text).encode()
            first = False
        tail = json.dumps(meta.tail())[1:]
        yield ("]}, " + tail + "}").encode()

    @staticmethod
    def _text_value(value: Any, kind: str | None) -> str:
        if value is None:
            return ""
        if kind == "date" and isinstance(value, str) and _DATE.match(value):
            return f"{value[8:10]}/{value[5:7]}/{value[2:4]}"
        if kind == "datetime" and isinstance(value, str) and _DATETIME.match(value):
            return f"{value[8:10]}/{value[5:7]}/{value[2:4]} {value[11:16]}"
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)

    def text_chunks(self, meta: ResultMeta, delimiter: str = ",") -> Iterator[bytes]:
        """:return: the result as CSV/TSV (``\\r\\n`` line ends, DD/MM/YY dates), in chunks."""
        import csv
        import io

        kinds = [c["type"] for c in meta.columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([c["name"] for c in meta.columns])
        for batch in self.iter_rows(meta):
            writer.writerows([self._text_value(v, k) for v, k in zip(row, kinds, strict=False)] for row in batch)
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
        if buffer.getvalue():
            yield buffer.getvalue().encode("utf-8")


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
        on_result: Any,
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
            self._finish(job, FAILED, _pg_style_error(exc, job.run_text or job.sql))
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
