"""The endpoint CRUD routes: list, create, retrieve, update, delete, versions, last_execution_times.

Each handler names the section of REFERENCE.md it follows. Handlers get an authenticated,
authorized, throttled :class:`~.routing.Ctx` and return a :class:`~.errors.Reply` or raise ``ApiError``.
"""

from __future__ import annotations

from typing import Any

from . import bodies, crud, errors, serialize
from .errors import Reply
from .formats import iso_hog
from .routing import Ctx
from .store import NAME_RE, Endpoint, Version


def _live(ctx: Ctx) -> Endpoint:
    ep = ctx.state.store.live(ctx.project_id, ctx.args["name"])
    if ep is None:
        raise errors.not_found()
    return ep


def _body(ctx: Ctx) -> Any:
    return ctx.body if ctx.body is not None else {}


def _bool_param(text: str) -> bool | None:
    return {"true": True, "1": True, "false": False, "0": False}.get(text.lower())


async def list_endpoints(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.1 GET /endpoints/ (G3 page; G1 {"results"}); soft-deleted excluded
    items = ctx.state.store.live_list(ctx.project_id)
    active = _bool_param(ctx.params.get("is_active", ""))
    if active is not None:
        items = [e for e in items if e.is_active == active]
    created_by = ctx.params.get("created_by")
    if created_by:
        items = [e for e in items if e.created_by is not None and str(e.created_by.id) == created_by]
    if ctx.state.g1:
        return Reply(200, {"results": [serialize.endpoint_json_g1(e) for e in items]})
    return Reply(200, serialize.page(items, ctx.params, ctx.url, lambda e: serialize.endpoint_json(e, ctx.site)))


async def create_endpoint(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.2 POST /endpoints/ (strict model; name, query, freshness, duplicate checks) -> 201
    state = ctx.state
    user = ctx.key.user
    if state.g1:
        g1 = bodies.as_parse_error(bodies.CreateBodyG1, _body(ctx))
        crud.check_name(g1.name)
        cache_age = crud.check_cache_age(g1.cache_age_seconds)
        columns = await crud.probe_columns_async(state, g1.query)
        version = crud.new_version(
            state,
            g1.query,
            columns,
            user,
            1,
            g1.description or "",
            cache_age=cache_age,
            sync_frequency=g1.sync_frequency,
        )
        active = g1.is_active is not False
        if g1.is_materialized:
            crud.check_materialize(active, version)
        ep = crud.create(
            state,
            ctx.project_id,
            g1.name,
            version,
            user,
            is_active=active,
            duplicate_detail="Failed to create endpoint.",
        )
        if g1.is_materialized:
            crud.set_materialized(state, version, True)
        return Reply(201, serialize.endpoint_json_g1(ep))
    body = bodies.as_parse_error(bodies.CreateBodyG3, _body(ctx))
    crud.check_name(body.name)
    freshness = crud.check_freshness(body.data_freshness_seconds)
    columns = await crud.probe_columns_async(state, body.query)
    version = crud.new_version(state, body.query, columns, user, 1, body.description or "", freshness)
    if body.is_materialized:
        crud.check_materialize(body.is_active is not False, version)
    ep = crud.create(
        state,
        ctx.project_id,
        body.name,
        version,
        user,
        is_active=body.is_active is not False,
        tags=list(body.tags or []),
        derived_from_insight=body.derived_from_insight,
        bucket_overrides=body.bucket_overrides,
        optional_breakdown_properties=list(body.optional_breakdown_properties or []),
    )
    if body.is_materialized:
        crud.set_materialized(state, version, True)
    return Reply(201, serialize.endpoint_json(ep, ctx.site))


async def retrieve_endpoint(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.3 GET /endpoints/{name}/ (?version=N -> EndpointVersionResponse; unknown -> bare 404)
    ep = _live(ctx)
    if ctx.state.g1:
        return Reply(200, serialize.endpoint_json_g1(ep))
    raw = ctx.params.get("version")
    if raw is None:
        return Reply(200, serialize.endpoint_json(ep, ctx.site))
    version = ep.version(int(raw)) if raw.isdigit() else None
    if version is None:
        raise errors.bare(404, f"Version {raw} not found")
    return Reply(200, serialize.version_json(ep, version, ctx.site))


def _target_version(ctx: Ctx, body_version: int | None) -> int | None:
    if body_version is not None:
        return body_version
    raw = ctx.params.get("version")
    if raw is None:
        return None
    if not raw.isdigit():
        raise errors.validation(f"Version {raw} not found.", "version")
    return int(raw)


async def update_endpoint(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.4 PUT|PATCH /endpoints/{name}/ (new version on query change; version targeting; deleted)
    state = ctx.state
    if state.g1:
        return await _update_g1(ctx)
    body = bodies.as_parse_error(bodies.UpdateBodyG3, _body(ctx))
    ep = _live(ctx)
    if body.deleted:
        crud.soft_delete(state, ep)
        return Reply(200, {"success": True})
    if body.name is not None and body.name != ep.name:
        raise errors.validation("An endpoint's name cannot be changed.", "name")
    freshness = crud.check_freshness(body.data_freshness_seconds) if body.data_freshness_seconds is not None else None
    target = _target_version(ctx, body.version)
    if target is not None:
        version = ep.version(target)
        if version is None:
            raise errors.validation(f"Version {target} not found.", "version")
        if body.query is not None:
            raise errors.validation("The query of an existing version cannot be changed.", "query")
        _apply_version_fields(ctx, ep, version, body.description, freshness, body.is_active, body.is_materialized)
        return Reply(200, serialize.version_json(ep, version, ctx.site))
    current = ep.current
    if current is None:
        raise errors.bare(404, "No version found for this endpoint")
    current = await _version_for_query(ctx, ep, current, body.query, freshness=current.data_freshness_seconds)
    with state.store.lock:
        if body.is_active is not None:
            ep.is_active = body.is_active
            if not body.is_active:
                for version in ep.versions:
                    crud.set_materialized(state, version, False)
        for field in ("tags", "derived_from_insight", "bucket_overrides", "optional_breakdown_properties"):
            value = getattr(body, field)
            if value is not None:
                setattr(ep, field, value)
        ep.updated_at = state.now()
    _apply_version_fields(ctx, ep, current, body.description, freshness, None, body.is_materialized)
    return Reply(200, serialize.endpoint_json(ep, ctx.site))


async def _version_for_query(
    ctx: Ctx, ep: Endpoint, current: Version, query: dict[str, Any] | None, **carried: Any
) -> Version:
    """:return: ``current``, or when ``query`` is given and differs from its query, a new version of ``ep``
    (appended) holding ``query``, ``current``'s description and the ``carried`` fields of
    :func:`crud.new_version`."""
    if query is None or query == current.query:
        return current
    columns = await crud.probe_columns_async(ctx.state, query)
    fresh = crud.new_version(
        ctx.state, query, columns, ctx.key.user, ep.current_version + 1, current.description, **carried
    )
    with ctx.state.store.lock:
        ep.versions.append(fresh)
    return fresh


def _apply_version_fields(
    ctx: Ctx,
    ep: Endpoint,
    version: Version,
    description: str | None,
    freshness: int | None,
    is_active: bool | None,
    is_materialized: bool | None,
) -> None:
    state = ctx.state
    if is_materialized:
        crud.check_materialize(ep.is_active, version)
    with state.store.lock:
        if description is not None:
            version.description = description
        if freshness is not None:
            version.data_freshness_seconds = freshness
        if is_active is not None:
            version.is_active = is_active
        if is_materialized is not None and is_materialized != version.is_materialized:
            crud.set_materialized(state, version, is_materialized)
        version.updated_at = state.now()


async def _update_g1(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.4 (G1: PUT and PATCH alike; only description, is_active, cache_age_seconds, query,
    # is_materialized, sync_frequency matter)
    state = ctx.state
    body = bodies.as_parse_error(bodies.UpdateBodyG1, _body(ctx))
    ep = _live(ctx)
    current = ep.current
    if current is None:
        raise errors.bare(404, "No version found for this endpoint")
    cache_age = crud.check_cache_age(body.cache_age_seconds) if body.cache_age_seconds is not None else None
    current = await _version_for_query(
        ctx, ep, current, body.query, cache_age=current.cache_age_seconds, sync_frequency=current.sync_frequency
    )
    with state.store.lock:
        if body.is_active is not None:
            ep.is_active = body.is_active
        if body.cache_age_seconds is not None:
            current.cache_age_seconds = cache_age
        if body.sync_frequency is not None:
            current.sync_frequency = body.sync_frequency
        ep.updated_at = state.now()
    _apply_version_fields(ctx, ep, current, body.description, None, None, body.is_materialized)
    return Reply(200, serialize.endpoint_json_g1(ep))


async def delete_endpoint(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.5 DELETE /endpoints/{name}/ -> 204 (G3 soft delete; G1 hard delete)
    ep = _live(ctx)
    if ctx.state.g1:
        ctx.state.store.remove(ep)
    else:
        crud.soft_delete(ctx.state, ep)
    return Reply(204)


async def list_versions(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.7 GET /endpoints/{name}/versions/ (G3 page, G1 bare array; newest first)
    ep = _live(ctx)
    versions = sorted(ep.versions, key=lambda v: v.number, reverse=True)
    if ctx.state.g1:
        return Reply(200, [serialize.version_json_g1(v) for v in versions])
    return Reply(200, serialize.page(versions, ctx.params, ctx.url, lambda v: serialize.version_json(ep, v, ctx.site)))


async def get_version_g1(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.8 GET /endpoints/{name}/versions/{n}/ (G1 only; unknown -> bare 404)
    ep = _live(ctx)
    version = ep.version(int(ctx.args["number"]))
    if version is None:
        raise errors.bare(404, f"Version {ctx.args['number']} not found")
    return Reply(200, serialize.version_json_g1(version))


async def last_execution_times(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.9 POST /endpoints/last_execution_times/ (QueryStatusResponse wrapper)
    body = ctx.body_dict()
    if "names" not in body:
        raise errors.validation("This field is required.", "names", code="required")
    names = body["names"]
    if not isinstance(names, list):
        raise errors.validation(f'Expected a list of items but got type "{type(names).__name__}".', "names")
    for name in names:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise errors.validation(f"Invalid endpoint name: {name!r}.", "names")
    results: list[list[str]] | None = None
    if names:
        results = []
        for name in dict.fromkeys(names):
            ep = ctx.state.store.live(ctx.project_id, name)
            if ep is not None and ep.last_executed_at is not None:
                results.append([name, iso_hog(ep.last_executed_at)])
    status = {
        "id": "",
        "team_id": ctx.project_id,
        "complete": True,
        "error": False,
        "error_message": None,
        "query_async": True,
        "results": results,
        "start_time": None,
        "end_time": None,
        "expiration_time": None,
        "pickup_time": None,
        "task_id": None,
        "query_progress": None,
        "insight_id": None,
        "dashboard_id": None,
        "labels": None,
    }
    return Reply(200, {"query_status": status})


async def bulk_update_tags(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.10 POST /endpoints/bulk_update_tags/ (always 405)
    raise errors.method_not_allowed(ctx.method)
