"""Computing a validated run: cache, concurrency slot, delay, SQL, injected faults, answer bodies.

REFERENCE.md §2.6 (success body, step 11 errors), §4 (refresh modes and cache TTL), §3.2 (G1's
background recalculation behind a 202), §7 rules 10-14 and 19.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import uuid
from dataclasses import dataclass
from typing import Any

from . import errors
from .cache import CachedResult, CacheKey, QueryStatus
from .executor import QueryError, clickhouse_types
from .formats import iso_hog, iso_z
from .hogql import has_top_level_limit, translate
from .inflight import RunCancelled
from .state import State
from .store import Endpoint, Version

#: How a run uses the cache: serve a fresh entry, always compute, or (G1) serve a stale one with a 202.
CACHE, FORCE, STALE_OK = "cache", "force", "stale_ok"


@dataclass
class Plan:
    """A run that passed validation: what to compute and how to answer."""

    ep: Endpoint
    version: Version
    query: dict[str, Any]
    values: dict[str, Any]
    mode: str
    materialized: bool
    limit: int | None = None
    offset: int | None = None
    client_query_id: str | None = None
    debug: bool = False
    overridden: bool = False  # G1 query_override changed the query

    @property
    def hogql(self) -> bool:
        """:return: True for a HogQL query (else an insight)."""
        return self.query.get("kind") == "HogQLQuery"

    def cache_key(self) -> CacheKey:
        """:return: the cache key (version, materialized read, variables, paging; G1 overrides too)."""
        variables: Any = [self.values, self.query] if self.overridden else self.values
        return CacheKey.of(self.ep.id, self.version.number, self.materialized, variables, self.limit, self.offset)

    def cache_key_text(self) -> str:
        """:return: the cache key as the opaque text the ``cache_key`` field shows."""
        return "cache_" + hashlib.sha1(repr(self.cache_key()).encode()).hexdigest()


def _period(state: State, version: Version) -> float:
    if state.g1:
        return float(version.cache_age_seconds or version.data_freshness_seconds)
    return float(version.data_freshness_seconds)


def last_materialization(state: State, version: Version) -> float:
    """:return: emulated time of the newest materialization (it repeats every period, §4.1)."""
    start = version.materialized_emul or 0.0
    period = _period(state, version)
    return start + math.floor(max(0.0, state.clock.now() - start) / period) * period


def is_fresh(state: State, plan: Plan, entry: CachedResult) -> bool:
    """:return: True if ``entry`` may be served: younger than the TTL, or (materialized) not older
    than the last materialization."""
    if plan.materialized:
        return entry.computed_emul >= last_materialization(state, plan.version)
    return state.clock.now() - entry.computed_emul < _period(state, plan.version)


def _wall(state: State, emul: float) -> dt.datetime:
    return state.now() - dt.timedelta(seconds=state.clock.now() - emul)


def _raise_fault(kind: str) -> None:
    if kind == "connection_reset":
        raise errors.DropConnection()
    if kind == "server_error":
        raise errors.server_error()
    raise errors.guardrail(kind)


async def compute(state: State, plan: Plan, query_id: str) -> CachedResult:
    """Compute ``plan`` now: take a concurrency slot, register as in flight under ``query_id``, hold
    for the endpoint's delay, then run the SQL (or take the insight's results).

    :return: the result (not yet cached).
    :raises ApiError: 429 no slot, 503 capacity, 400 query error or guardrail, 500 cancelled or failed.
    :raises DropConnection: for an injected connection reset.
    """
    ep, project_id = plan.ep, plan.ep.project_id
    fault = state.run_faults.take(ep.name)
    if fault == "query_capacity":
        raise errors.capacity()
    await state.gate.acquire(project_id, plan.materialized)
    run = state.inflight.register(project_id, query_id, ep.name)
    state.counters.job_started_waiting()
    try:
        await run.hold(state.clock.real_seconds(ep.delay))
        if fault:
            _raise_fault(fault)
        state.counters.record_execution(ep.name, plan.values)
        computed_emul = state.clock.now()
        if not plan.hogql:
            source = ep.insight_results
            results = source(dict(plan.values)) if callable(source) else (source if source is not None else [])
            return CachedResult(results, None, None, False, state.now(), computed_emul)
        sql = str(plan.query.get("query", ""))
        translated = translate(sql)
        if plan.limit is not None:
            fetch, offset = plan.limit + 1, plan.offset or 0
        else:
            cap = state.settings.max_row_cap if has_top_level_limit(sql) else state.settings.default_row_cap
            fetch, offset = cap + 1, 0
        rows = await state.sql.read_async(translated, plan.values, fetch, offset, on_connect=run.attach)
        run.check()
        keep = fetch - 1
        has_more = len(rows.rows) > keep
        rows.rows[keep:] = []
        types = clickhouse_types(rows, plan.version.columns)
        return CachedResult(rows.rows, rows.names, types, has_more, state.now(), computed_emul, sql, keep)
    except RunCancelled:
        raise errors.server_error() from None  # ClickHouse's QUERY_WAS_CANCELLED is an internal error
    except QueryError as exc:
        if run.cancelled.is_set():
            raise errors.server_error() from None
        raise errors.validation(str(exc)) from None
    finally:
        state.inflight.unregister(run)
        state.gate.release(project_id, plan.materialized)
        state.counters.job_done()


async def cached_or_computed(state: State, plan: Plan) -> tuple[CachedResult, bool]:
    """:return: (result, is_cached): a fresh cache entry in ``cache`` mode, else a new computation
    (stored in the cache). :raises ApiError: see :func:`compute`."""
    key = plan.cache_key()
    entry = state.cache.get(key)
    if plan.mode != FORCE and entry is not None and is_fresh(state, plan, entry):
        return entry, True
    result = await compute(state, plan, plan.client_query_id or uuid.uuid4().hex)
    state.cache.put(key, result)
    return result, False


def _target_age(state: State, plan: Plan, result: CachedResult) -> dt.datetime:
    if plan.materialized:
        due = last_materialization(state, plan.version) + _period(state, plan.version)
        return _wall(state, due)
    return result.last_refresh + dt.timedelta(seconds=_period(state, plan.version))


def _freshness_fields(state: State, plan: Plan, result: CachedResult, is_cached: bool) -> dict[str, Any]:
    nxt = result.last_refresh + dt.timedelta(seconds=state.settings.next_refresh_seconds)
    return {
        "is_cached": is_cached,
        "last_refresh": iso_z(result.last_refresh),
        "next_allowed_client_refresh": iso_z(nxt),
        "cache_target_age": iso_z(_target_age(state, plan, result)),
        "timezone": "UTC",
        "query_status": None,
        "error": None,
    }


def response_g3(state: State, plan: Plan, result: CachedResult, is_cached: bool) -> dict[str, Any]:
    """:return: G3's run body (§2.6): ``results`` first, ``hasMore`` false unless paging, debug keys
    only with ``debug``."""
    out: dict[str, Any] = {"results": result.results}
    if plan.hogql:
        out["columns"] = result.columns
        out["types"] = result.types
    out["hasMore"] = result.has_more if plan.limit is not None else False
    out.update(_freshness_fields(state, plan, result, is_cached))
    out["name"] = plan.ep.name
    out["execution_id"] = str(uuid.uuid4())
    out["endpoint_version"] = plan.version.number
    out["endpoint_version_created_at"] = iso_hog(plan.version.created_at)
    if plan.materialized:
        out["endpoint_materialized"] = True
        out["endpoint_materialized_at"] = iso_hog(_wall(state, last_materialization(state, plan.version)))
    if plan.debug:
        out.update(
            {
                "hogql": result.hogql,
                "timings": [],
                "modifiers": {},
                "explain": None,
                "cache_key": plan.cache_key_text(),
                "calculation_trigger": None,
                "resolved_date_range": None,
            }
        )
    return out


def response_g1(state: State, plan: Plan, result: CachedResult, is_cached: bool) -> dict[str, Any]:
    """:return: G1's run body: the query runner's response plus ``_version``/``_materialized`` keys."""
    out: dict[str, Any] = {"results": result.results}
    if plan.hogql:
        out.update(
            {
                "columns": result.columns,
                "types": result.types,
                "hogql": result.hogql,
                "timings": [],
                "hasMore": result.has_more,
                "limit": result.applied_limit,
                "offset": 0,
                "modifiers": {},
            }
        )
    out.update(_freshness_fields(state, plan, result, is_cached))
    out["cache_key"] = plan.cache_key_text()
    out["_version"] = plan.version.number
    out["_version_created_at"] = iso_hog(plan.version.created_at)
    if plan.materialized:
        out["_materialized"] = True
        out["_materialized_at"] = iso_hog(_wall(state, last_materialization(state, plan.version)))
    return out


def start_recalculation(state: State, plan: Plan) -> QueryStatus:
    """Start G1's background recalculation of ``plan`` (§3.2) and register its query status.

    :return: the status (queued; ``GET /query/{id}`` follows it until it completes or expires).
    """
    query_id = plan.client_query_id or uuid.uuid4().hex
    ttl = state.settings.status_ttl
    status = QueryStatus(
        id=query_id,
        team_id=plan.ep.project_id,
        start_time=state.now(),
        expiration_time=state.now() + dt.timedelta(seconds=ttl),
        expires_emul=state.clock.now() + ttl,
    )
    state.statuses.put(status)
    status.task = asyncio.get_running_loop().create_task(_recalculate(state, plan, status))
    return status


async def _recalculate(state: State, plan: Plan, status: QueryStatus) -> None:
    await asyncio.sleep(state.clock.real_seconds(state.settings.g1_pickup_delay))
    status.pickup_time = state.now()
    try:
        result = await compute(state, plan, status.id)
    except errors.ApiError as exc:
        status.error = True
        status.error_message = str(exc.body.get("detail")) if exc.status == 400 else None
    except Exception:  # a dropped connection or a crash: an internal error without a message
        status.error = True
        status.error_message = None
    else:
        state.cache.put(plan.cache_key(), result)
        status.results = response_g1(state, plan, result, is_cached=False)
    ttl = state.settings.status_ttl
    status.complete = True
    status.end_time = state.now()
    status.expiration_time = status.end_time + dt.timedelta(seconds=ttl)
    status.expires_emul = state.clock.now() + ttl
