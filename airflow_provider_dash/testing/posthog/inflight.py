"""Runs being computed, by query id, so ``DELETE /query/{id}`` can cancel one (REFERENCE.md §7 rules 14-15).

A run registers under its ``client_query_id`` (or a generated id), holds for its endpoint's delay
and then runs its SQL; a cancel wakes the hold and interrupts the SQL. Handlers use it from the
event loop; tests read :meth:`InFlight.ids` from their own thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass, field


class RunCancelled(Exception):
    """The run was cancelled through ``DELETE /query/{id}``."""


@dataclass(eq=False)
class InFlightRun:
    """One run being computed."""

    project_id: int
    query_id: str
    name: str
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    conn: sqlite3.Connection | None = None

    def attach(self, conn: sqlite3.Connection) -> None:
        """Remember the connection running the SQL (so a cancel can interrupt it)."""
        self.conn = conn
        if self.cancelled.is_set():
            conn.interrupt()

    def check(self) -> None:
        """:raises RunCancelled: if the run was cancelled."""
        if self.cancelled.is_set():
            raise RunCancelled(self.query_id)

    async def hold(self, real_seconds: float) -> None:
        """Wait ``real_seconds`` (the emulated execution time), or less if cancelled.

        :raises RunCancelled: if the run is cancelled before or while it holds.
        """
        self.check()
        if real_seconds > 0:
            try:
                await asyncio.wait_for(self.cancelled.wait(), real_seconds)
            except TimeoutError:
                pass
        self.check()


class InFlight:
    """The registry of runs in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[InFlightRun] = []

    def register(self, project_id: int, query_id: str, name: str) -> InFlightRun:
        """:return: a new in-flight run (call :meth:`unregister` when it ends)."""
        run = InFlightRun(project_id, query_id, name)
        with self._lock:
            self._runs.append(run)
        return run

    def unregister(self, run: InFlightRun) -> None:
        """Forget a finished run."""
        with self._lock:
            self._runs = [r for r in self._runs if r is not run]

    def cancel(self, project_id: int, query_id: str) -> int:
        """Cancel every run of the project with ``query_id``. :return: how many were cancelled."""
        with self._lock:
            found = [r for r in self._runs if r.project_id == project_id and r.query_id == query_id]
        for run in found:
            run.cancelled.set()
            if run.conn is not None:
                run.conn.interrupt()
        return len(found)

    def ids(self, project_id: int | None = None) -> list[str]:
        """:return: the query ids of the runs in flight (of one project, or all)."""
        with self._lock:
            return [r.query_id for r in self._runs if project_id is None or r.project_id == project_id]
