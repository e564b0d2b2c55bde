"""Creating, versioning, materializing and deleting endpoints, with PostHog's checks.

REFERENCE.md §2.2 (create checks), §2.4 (versions, materialization), §2.5 (soft delete), §2.9
(``last_executed_at``). Shared by the HTTP handlers and the emulator's own ``add_endpoint``; no HTTP here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from . import errors, querydef
from .executor import QueryError
from .hogql import materialize_problem, translate
from .state import State
from .store import (
    DEFAULT_FRESHNESS,
    FRESHNESS_BUCKETS,
    G1_CACHE_AGE_RANGE,
    G1_DEFAULT_CACHE_AGE,
    NAME_RE,
    Endpoint,
    User,
    Version,
)


def check_name(name: str) -> None:
    """:raises ApiError: 400 ``attr: "name"`` unless ``name`` matches ``^[a-zA-Z][a-zA-Z0-9_-]{0,127}$``."""
    if not NAME_RE.match(name):
        raise errors.validation(
            "Endpoint name must start with a letter and contain only letters, digits, hyphens and underscores "
            "(at most 128 characters).",
            "name",
        )


def check_freshness(value: int | None) -> int:
    """:return: ``data_freshness_seconds`` (default 86400). :raises ApiError: 400 for a value outside the buckets."""
    if value is None:
        return DEFAULT_FRESHNESS
    if value not in FRESHNESS_BUCKETS:
        allowed = ", ".join(str(b) for b in FRESHNESS_BUCKETS)
        raise errors.validation(f"data_freshness_seconds must be one of: {allowed}.", "data_freshness_seconds")
    return value


def check_cache_age(value: int | None) -> int:
    """:return: G1's ``cache_age_seconds`` (default 3600). :raises ApiError: 400 outside 300..86400."""
    if value is None:
        return G1_DEFAULT_CACHE_AGE
    low, high = G1_CACHE_AGE_RANGE
    if not low <= value <= high:
        raise errors.validation(f"cache_age_seconds must be between {low} and {high}.", "cache_age_seconds")
    return value


def probe_columns(state: State, query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Check a query object and run its SQL once with the stored defaults (parse, tables).

    :return: the columns as (name, kind) pairs (none for an insight query).
    :raises ApiError: 400 ``attr: "query"`` when the query is malformed or its SQL fails.
    """
    querydef.check(query)
    if query.get("kind") != querydef.HOGQL:
        return []
    try:
        return state.sql.probe(translate(str(query["query"])), querydef.defaults(query))
    except QueryError as exc:
        raise errors.validation(str(exc), "query") from None


async def probe_columns_async(state: State, query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """:func:`probe_columns` in the database's thread pool. :return: the columns."""
    querydef.check(query)  # cheap, and raises in the loop with the right error
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(state.db.executor, probe_columns, state, query)


def check_materialize(endpoint_active: bool, version: Version) -> None:
    """:raises ApiError: 400 ``attr: "is_materialized"`` for an inactive endpoint or a query that
    cannot be materialized ("Cannot materialize endpoint. Reason: ...")."""
    if not endpoint_active:
        raise errors.validation("Cannot materialize an inactive endpoint.", "is_materialized")
    reason = materialize_problem(str(version.query.get("query", ""))) if version.is_hogql else None
    if reason:
        raise errors.validation(f"Cannot materialize endpoint. Reason: {reason}", "is_materialized")


def set_materialized(state: State, version: Version, on: bool) -> None:
    """Turn materialization of ``version`` on (materialized now) or off."""
    version.is_materialized = on
    version.materialized_at = state.now() if on else None
    version.materialized_emul = state.clock.now() if on else None


def new_version(
    state: State,
    query: dict[str, Any],
    columns: list[tuple[str, str]],
    user: User | None,
    number: int,
    description: str = "",
    freshness: int = DEFAULT_FRESHNESS,
    cache_age: int | None = None,
    sync_frequency: str | None = None,
) -> Version:
    """:return: a version (not yet attached to an endpoint)."""
    return Version(
        number=number,
        query=query,
        description=description,
        data_freshness_seconds=freshness,
        created_at=state.now(),
        created_by=user,
        cache_age_seconds=cache_age,
        sync_frequency=sync_frequency,
        columns=columns,
    )


def create(
    state: State,
    project_id: int,
    name: str,
    version: Version,
    user: User | None,
    *,
    is_active: bool = True,
    duplicate_detail: str | None = None,
    **fields: Any,
) -> Endpoint:
    """Add an endpoint with its first version (name checked, duplicates refused).

    :param duplicate_detail: the error text for a name in use (G1's generic one; G3 names the field).
    :return: the endpoint.
    :raises ApiError: 400 for a bad or duplicate name.
    """
    check_name(name)
    ep = Endpoint(name, project_id, [version], state.now(), user, is_active=is_active, **fields)
    with state.store.lock:
        if state.store.live(project_id, name) is not None:
            if duplicate_detail is not None:
                raise errors.validation(duplicate_detail)
            raise errors.validation(f"An endpoint with the name '{name}' already exists.", "name")
        state.store.add(ep)
    return ep


def soft_delete(state: State, ep: Endpoint) -> None:
    """Mark ``ep`` deleted (its name becomes free) and stop its materialization (§2.5)."""
    with state.store.lock:
        ep.deleted = True
        ep.updated_at = state.now()
        for version in ep.versions:
            set_materialized(state, version, False)


def mark_executed(state: State, ep: Endpoint, version: Version) -> None:
    """Record a run in ``last_executed_at``, at most once per ``last_executed_interval`` (§2.9)."""
    now_emul = state.clock.now()
    last = ep.last_executed_emul
    if last is not None and now_emul - last < state.settings.last_executed_interval:
        return
    moment = state.now()
    with state.store.lock:
        ep.last_executed_emul = now_emul
        ep.last_executed_at = moment
        version.last_executed_at = moment
