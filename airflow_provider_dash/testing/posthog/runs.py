"""The run route (``GET|POST /endpoints/{name}/run/``): validation in the server's order, then execution.

REFERENCE.md §2.6 (G3: steps 1-11), §4.2 and §3.2 (G1: RefreshType, ``variables_values``, the 202
of ``async_except_on_cache_miss``), §5 (variables).
"""

from __future__ import annotations

from typing import Any

from . import bodies, crud, errors, querydef
from .errors import Reply
from .execution import CACHE, FORCE, STALE_OK, Plan, cached_or_computed, response_g1, response_g3, start_recalculation
from .execution import is_fresh as entry_is_fresh
from .routing import Ctx
from .store import Endpoint, Version


def _endpoint(ctx: Ctx) -> Endpoint:
    # step 1: missing, soft-deleted or inactive -> 404 envelope
    ep = ctx.state.store.live(ctx.project_id, ctx.args["name"])
    if ep is None or not ep.is_active:
        raise errors.not_found()
    return ep


def _query_int(ctx: Ctx, name: str, minimum: int) -> int | None:
    raw = ctx.params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise errors.bare(400, f"Invalid {name} parameter: {raw}")
    return value


def _version(ep: Endpoint, number: int | None) -> Version:
    # step 4 (and the legacy endpoint without any version row)
    if not ep.versions:
        raise errors.bare(404, "No version found for this endpoint")
    version = ep.version(number) if number is not None else ep.current
    if version is None:
        raise errors.bare(
            404, f"Version {number} not found for endpoint '{ep.name}'", current_version=ep.current_version
        )
    if not version.is_active:  # step 5
        raise errors.validation(f"Version {version.number} is inactive and cannot be executed.", "version")
    return version


def _allowed_variables(ep: Endpoint, version: Version, materialized: bool) -> list[str]:
    if version.is_hogql:
        return list(querydef.definitions(version.query))
    names = querydef.breakdown_properties(version.query)
    return names if materialized else [*names, *querydef.INSIGHT_DATE_VARIABLES]


def _required_variables(ep: Endpoint, version: Version) -> list[str]:
    if version.is_hogql:
        return list(querydef.definitions(version.query))
    optional = set(ep.optional_breakdown_properties)
    return [n for n in querydef.breakdown_properties(version.query) if n not in optional]


async def run(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.6 GET|POST /endpoints/{name}/run/ (G3; G1 per §4.2 and §3.2)
    if ctx.state.g1:
        return await _run_g1(ctx)
    ep = _endpoint(ctx)
    body = bodies.RunBodyG3()
    if ctx.method == "POST":  # GET takes no body (step 2)
        body = bodies.as_field_error(bodies.RunBodyG3, ctx.body if ctx.body is not None else {})
    number = body.version if body.version is not None else _query_int(ctx, "version", 1)
    limit = body.limit if body.limit is not None else _query_int(ctx, "limit", 1)
    offset = body.offset if body.offset is not None else _query_int(ctx, "offset", 0)
    if offset is not None and limit is None:
        raise errors.bare(400, "offset requires limit to be set")
    version = _version(ep, number)
    if body.filters_override is not None and version.is_hogql:  # step 6
        raise errors.validation("filters_override is not supported for HogQL endpoints.", "filters_override")
    if not version.is_hogql:  # step 7
        if offset is not None:
            raise errors.validation("offset is only supported for HogQL endpoints.", "offset")
        if limit is not None:
            raise errors.validation("limit is only supported for HogQL endpoints.", "limit")
    refresh = body.refresh or "cache"
    if refresh == "direct" and not version.is_materialized:  # step 8
        raise errors.validation("refresh='direct' is only supported for materialized endpoint versions.", "refresh")
    materialized = version.is_materialized and refresh != "direct"
    given = dict(body.variables or {})
    allowed = _allowed_variables(ep, version, materialized)
    unknown = [name for name in given if name not in allowed]
    if unknown:  # step 9
        raise errors.validation(f"Unknown variable(s): {', '.join(unknown)}", "variables")
    if materialized:  # step 10
        missing = [name for name in _required_variables(ep, version) if name not in given]
        if missing:
            listed = ", ".join(f"'{name}'" for name in missing)
            raise errors.validation(f"Required variable(s) {listed} not provided", "variables")
    values = {**querydef.defaults(version.query), **given} if version.is_hogql else given
    plan = Plan(
        ep,
        version,
        version.query,
        values,
        CACHE if refresh == "cache" else FORCE,
        materialized,
        limit=limit,
        offset=offset,
        client_query_id=body.client_query_id,
        debug=bool(body.debug),
    )
    result, is_cached = await cached_or_computed(ctx.state, plan)  # step 11
    crud.mark_executed(ctx.state, ep, version)
    headers = {"X-PostHog-Warn": "filters_override is deprecated."} if body.filters_override is not None else {}
    return Reply(200, response_g3(ctx.state, plan, result, is_cached), headers)


def _g1_values(query: dict[str, Any], body: bodies.RunBodyG1) -> dict[str, Any]:
    values = querydef.defaults(query)
    for name, value in (body.variables_values or {}).items():
        if name in values:  # G1 silently ignored unknown names
            values[name] = value
    known = querydef.definitions(query)
    by_id = {str(e.get("variableId")): name for name, e in known.items()}
    for item in body.variables_override or []:
        target = item.get("code_name") or by_id.get(str(item.get("variableId")))
        if isinstance(target, str) and target in values:
            values[target] = item.get("value")
    return values


async def _run_g1(ctx: Ctx) -> Reply:
    # REFERENCE.md §4.2 (G1 refresh), §3.2 (202 on a stale entry), §5 (variables_values)
    state = ctx.state
    ep = _endpoint(ctx)
    body = bodies.RunBodyG1()
    if ctx.method == "POST":
        body = bodies.as_parse_error(bodies.RunBodyG1, ctx.body if ctx.body is not None else {})
    if body.refresh in bodies.G1_ASYNC_REFRESH:
        raise errors.validation("Only sync modes are supported (refresh param)")
    version = _version(ep, body.version)
    query = dict(version.query)
    if body.query_override:
        query.update(body.query_override)
        querydef.check(query)
    mode = {"force_blocking": FORCE, "async_except_on_cache_miss": STALE_OK}.get(body.refresh or "", CACHE)
    materialized = version.is_materialized and mode != FORCE  # force_blocking also bypasses materialization
    values = _g1_values(query, body) if query.get("kind") == querydef.HOGQL else dict(body.variables_values or {})
    plan = Plan(
        ep,
        version,
        query,
        values,
        mode,
        materialized,
        client_query_id=body.client_query_id,
        overridden=bool(body.query_override),
    )
    entry = state.cache.get(plan.cache_key())
    if mode == STALE_OK and entry is not None and not entry_is_fresh(state, plan, entry):
        status = start_recalculation(state, plan)
        answer = response_g1(state, plan, entry, is_cached=True)
        answer["query_status"] = status.to_json()
        crud.mark_executed(state, ep, version)
        return Reply(202, answer)
    result, is_cached = await cached_or_computed(state, plan)
    crud.mark_executed(state, ep, version)
    return Reply(200, response_g1(state, plan, result, is_cached))
