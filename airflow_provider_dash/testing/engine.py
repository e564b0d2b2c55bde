"""Deprecated: the old home of the Redash emulator's engine, kept so old imports still work.

Import from :mod:`.sqlite_database` (``Database``, shared by the emulators), :mod:`.redash_sql`
(results, query hash), :mod:`.redash_jobs_engine` (jobs) and :mod:`.redash_time` instead.
"""

from __future__ import annotations

from .redash_jobs_engine import CANCELLED_MESSAGE, FAILED, FINISHED, QUEUED, STARTED, Job, JobManager
from .redash_sql import ResultMeta, ResultStore, query_hash, sleep_seconds
from .redash_time import iso_ms, utcnow
from .sqlite_database import Database

__all__ = [
    "CANCELLED_MESSAGE",
    "FAILED",
    "FINISHED",
    "QUEUED",
    "STARTED",
    "Database",
    "Job",
    "JobManager",
    "ResultMeta",
    "ResultStore",
    "iso_ms",
    "query_hash",
    "sleep_seconds",
    "utcnow",
]
