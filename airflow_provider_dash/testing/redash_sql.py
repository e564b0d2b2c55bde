"""The Redash emulator's SQL side: Redash's query hash, results stored as SQLite tables, the result store.

SQL runs on the shared :class:`~.sqlite_database.Database`. A result is a SQLite table streamed from a
cursor when downloaded, so a million-row result is never held in memory; the cache lookup is by
(query hash, data source, max_age), as Redash's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .redash_time import iso_ms, utcnow
from .sqlite_database import DATE_TEXT, value_kind

if TYPE_CHECKING:
    from .clock import EmulatedClock
    from .sqlite_database import Database

_COMMENTS = re.compile(r"/\*.*?\*/", re.DOTALL)
_PG_SLEEP = re.compile(r"pg_sleep\s*\(\s*([0-9]*\.?[0-9]+)\s*\)", re.IGNORECASE)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_ROW_BATCH = 2000


def query_hash(sql: str) -> str:
    """:return: Redash's hash of a query text (comments and whitespace ignored)."""
    text = "".join(_COMMENTS.sub("", sql).split())
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sleep_seconds(sql: str) -> float:
    """:return: the emulated seconds ``pg_sleep(n)`` calls in ``sql`` add up to."""
    return sum(float(m.group(1)) for m in _PG_SLEEP.finditer(sql))


def pg_style_error(exc: Exception, sql: str) -> str:
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
            kind = next((value_kind(r[i], _DATETIME) for r in sample if r[i] is not None), None)
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
        if kind == "date" and isinstance(value, str) and DATE_TEXT.match(value):
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
