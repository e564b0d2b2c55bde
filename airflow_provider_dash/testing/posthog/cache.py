"""Cached run results and G1's async query statuses (REFERENCE.md §4, §7 rules 12 and 16).

Both age on the emulated clock. Results never leave the cache (a stale entry is what G1's
``async_except_on_cache_miss`` serves with its 202); query statuses expire after their TTL.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from .formats import iso_hog, iso_z

QUEUED, RUNNING, DONE = "queued", "running", "done"


@dataclass(frozen=True)
class CacheKey:
    """What makes two runs share a result: version, materialized read, variables, paging."""

    endpoint_id: str
    version: int
    materialized: bool
    variables: str
    limit: int | None
    offset: int | None

    @staticmethod
    def of(
        endpoint_id: str, version: int, materialized: bool, variables: Any, limit: int | None, offset: int | None
    ) -> CacheKey:
        """:return: the key, variables in canonical form (key order does not matter)."""
        text = json.dumps(variables, sort_keys=True, default=str)
        return CacheKey(endpoint_id, version, materialized, text, limit, offset)


@dataclass
class CachedResult:
    """A computed result: rows (or an insight's results), and when it was computed."""

    results: Any
    columns: list[str] | None
    types: list[list[str]] | None
    has_more: bool
    last_refresh: dt.datetime
    computed_emul: float
    hogql: str | None = None
    applied_limit: int | None = None


class ResultCache:
    """Run results by :class:`CacheKey`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[CacheKey, CachedResult] = {}

    def get(self, key: CacheKey) -> CachedResult | None:
        """:return: the entry for ``key`` (fresh or stale), or None."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: CacheKey, result: CachedResult) -> None:
        """Keep ``result`` under ``key`` (replacing an older one)."""
        with self._lock:
            self._entries[key] = result

    def clear(self) -> None:
        """Forget every result."""
        with self._lock:
            self._entries.clear()


@dataclass
class QueryStatus:
    """A G1 background recalculation as ``GET /query/{id}`` shows it (§2.11)."""

    id: str
    team_id: int
    start_time: dt.datetime
    expiration_time: dt.datetime
    expires_emul: float
    pickup_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    complete: bool = False
    error: bool = False
    error_message: str | None = None
    results: Any = None
    task: Any = field(default=None, repr=False)  # the asyncio task computing it

    @property
    def phase(self) -> str:
        """:return: ``queued`` (not picked up), ``running`` or ``done``."""
        if self.complete:
            return DONE
        return QUEUED if self.pickup_time is None else RUNNING

    def to_json(self) -> dict[str, Any]:
        """:return: the ``QueryStatus`` object."""
        return {
            "id": self.id,
            "team_id": self.team_id,
            "query_async": True,
            "complete": self.complete,
            "error": self.error,
            "error_message": self.error_message,
            "results": self.results,
            "start_time": iso_z(self.start_time),
            "pickup_time": iso_z(self.pickup_time) if self.pickup_time else None,
            "end_time": iso_z(self.end_time) if self.end_time else None,
            "expiration_time": iso_hog(self.expiration_time),
            "task_id": None,
            "query_progress": None,
            "insight_id": None,
            "dashboard_id": None,
            "labels": None,
        }


class QueryStatuses:
    """G1 query statuses by (project, id), expiring on the emulated clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[int, str], QueryStatus] = {}

    def put(self, status: QueryStatus) -> None:
        """Keep (or replace) a status."""
        with self._lock:
            self._items[(status.team_id, status.id)] = status

    def get(self, project_id: int, query_id: str, now_emul: float) -> QueryStatus | None:
        """:return: the live status, or None (unknown, deleted or expired: expired ones are dropped)."""
        with self._lock:
            status = self._items.get((project_id, query_id))
            if status is not None and now_emul >= status.expires_emul:
                del self._items[(project_id, query_id)]
                return None
            return status

    def delete(self, project_id: int, query_id: str) -> None:
        """Forget a status."""
        with self._lock:
            self._items.pop((project_id, query_id), None)
