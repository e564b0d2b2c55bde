"""Runs translated HogQL on the emulator's SQLite database and names the result's types.

Reads use their own read-only connection each (``PRAGMA query_only``), in the database's thread
pool, so the event loop never blocks; a running statement can be interrupted (cancel, §7 rule 15).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_dash.testing.sqlite_database import Database, value_kind

from .hogql import Translated, register_functions

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


class QueryError(Exception):
    """The query failed in the database (a user error, shown like HogQL's message)."""


@dataclass(frozen=True)
class Rows:
    """Column names and rows of one read."""

    names: list[str]
    rows: list[list[Any]]


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    return value_kind(value, _DATETIME) or "string"


_CLICKHOUSE = {
    "boolean": "Bool",
    "integer": "Int64",
    "float": "Float64",
    "date": "Date",
    "datetime": "DateTime64(6, 'UTC')",
    "string": "String",
}


def column_kinds(rows: Rows) -> list[str]:
    """:return: a kind per column (``integer``, ``float``, ``date``, ``datetime``, ``string``,
    ``boolean``, or ``unknown`` when every value is NULL), from the first non-NULL value."""
    kinds = []
    for i in range(len(rows.names)):
        kind = next((k for r in rows.rows if (k := _kind(r[i])) is not None), None)
        kinds.append(kind or "unknown")
    return kinds


def clickhouse_types(rows: Rows, fallback: Sequence[tuple[str, str]] = ()) -> list[list[str]]:
    """:return: ``[[name, ClickHouse type], ...]`` as a run's ``types`` (§2.6); columns that are all
    NULL take their kind from ``fallback`` (the version's columns), else ``Nullable(Nothing)``."""
    known = dict(fallback)
    out = []
    for name, kind in zip(rows.names, column_kinds(rows), strict=True):
        if kind == "unknown":
            kind = known.get(name, "unknown")
        out.append([name, _CLICKHOUSE.get(kind, "Nullable(Nothing)")])
    return out


def _hogql_message(exc: sqlite3.Error) -> str:
    """:return: SQLite's message in HogQL's words where the two differ in a way clients see."""
    text = str(exc)
    if match := re.match(r"no such table: (.+)", text):
        return f"Unknown table `{match.group(1)}`."
    if match := re.match(r"no such column: (.+)", text):
        return f"Unable to resolve field: {match.group(1)}"
    if match := re.match(r"no such function: (.+)", text):
        return f"Unsupported function call '{match.group(1)}(...)'"
    return text


class SqlRunner:
    """Reads from the emulator's :class:`~airflow_provider_dash.testing.sqlite_database.Database`."""

    def __init__(self, db: Database, now: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.now = now

    def _connect(self) -> sqlite3.Connection:
        conn = self.db.connect(same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        register_functions(conn, self.now)
        return conn

    def read(
        self,
        query: Translated,
        values: Mapping[str, Any],
        limit: int,
        offset: int = 0,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Rows:
        """Run ``query`` with ``values`` bound, keeping rows ``offset`` .. ``offset + limit``.

        The query is wrapped as a subquery, so a ``LIMIT`` of its own stays a ceiling.

        :param on_connect: called with the connection before the statement runs (to interrupt it).
        :return: the rows.
        :raises QueryError: when the database rejects or interrupts the statement.
        """
        conn = self._connect()
        try:
            if on_connect is not None:
                on_connect(conn)
            sql = f"SELECT * FROM (\n{query.sql}\n) LIMIT ? OFFSET ?"
            try:
                cursor = conn.execute(sql, [*query.parameters(values), limit, offset])
                names = [d[0] for d in cursor.description or []]
                rows = [list(r) for r in cursor.fetchall()]
            except sqlite3.Error as exc:
                raise QueryError(_hogql_message(exc)) from None
            return Rows(names, rows)
        finally:
            conn.close()

    async def read_async(
        self,
        query: Translated,
        values: Mapping[str, Any],
        limit: int,
        offset: int = 0,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Rows:
        """:meth:`read` in the database's thread pool. :return: the rows. :raises QueryError: see :meth:`read`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db.executor, self.read, query, values, limit, offset, on_connect)

    def probe(self, query: Translated, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Check that ``query`` parses and reads existing tables (create/update, §2.2).

        :return: its columns as (name, kind) pairs, kinds from the first row.
        :raises QueryError: when it does not run.
        """
        rows = self.read(query, values, limit=1)
        return list(zip(rows.names, column_kinds(rows), strict=True))
