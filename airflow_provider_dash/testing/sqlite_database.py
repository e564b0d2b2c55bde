"""The SQLite database file the emulators run SQL on: one writer under a lock, a thread pool for the SQL.

Shared by the Redash and PostHog emulators (every emulated data source reads this one file). WAL
mode lets readers stream a result while the writer stores the next one. :func:`value_kind` names what a
read gives back (a column type), the same way for both.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _sqlite_pg_sleep(_seconds: Any) -> str:
    # The delay is emulated with an asyncio timer by the job; here it only returns void ("").
    return ""


#: A date as the emulators' SQL gives it back: a ``YYYY-MM-DD`` text.
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def value_kind(value: Any, datetime_text: re.Pattern[str]) -> str | None:
    """The kind of a value read from the database, as the emulators name a column's type.

    :param datetime_text: what a date-time text looks like to the emulated server.
    :return: ``"boolean"``, ``"integer"``, ``"float"``, ``"date"`` (a text matching :data:`DATE_TEXT`) or
        ``"datetime"`` (a text matching ``datetime_text``); None for anything else (NULL, other texts, blobs).
    """
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        if DATE_TEXT.match(value):
            return "date"
        if datetime_text.match(value):
            return "datetime"
    return None


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
