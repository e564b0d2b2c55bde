"""The Redash emulator's handlers of saved queries: list, search, create, fork, get, edit, archive and
the legacy refresh."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from .redash_http import (
    CONFLICT,
    INTERNAL,
    Ctx,
    HTTPError,
    apply_fields,
    json_response,
    page_response,
    query_of,
    require_user,
)
from .redash_results import run
from .redash_time import utcnow

if TYPE_CHECKING:
    from .objects import Query

_EDITABLE = (
    "name",
    "description",
    "query",
    "options",
    "tags",
    "schedule",
    "is_draft",
    "data_source_id",
    "latest_query_data_id",
)


def _sorted_queries(ctx: Ctx, archived: bool) -> list[Query]:
    qp = ctx.request.query_params
    items = [q for q in ctx.state.objects.queries.values() if q.is_archived == archived]
    term = (qp.get("q") or "").lower()
    if term:
        items = [
            q
            for q in items
            if term in q.name.lower() or term in (q.description or "").lower() or term in q.query.lower()
        ]
    tags = qp.getlist("tags")
    if tags:
        items = [q for q in items if set(tags) <= set(q.tags)]
    order = qp.get("order") or "-created_at"
    field = order.lstrip("-")
    results = ctx.state.results

    def retrieved_emul(query: Query) -> float:
        meta = results.get(query.latest_query_data_id) if query.latest_query_data_id else None
        return meta.retrieved_emul if meta is not None else float("-inf")

    keys: dict[str, Callable[[Query], Any]] = {
        "name": lambda q: q.name.lower(),
        "created_at": lambda q: (q.created_at, q.id),
        "updated_at": lambda q: (q.updated_at, q.id),
        "id": lambda q: q.id,
        # query_scheduled_refresh.json: ?order=-retrieved_at (queries never run sort last)
        "retrieved_at": lambda q: (retrieved_emul(q), q.id),
    }
    items.sort(key=keys.get(field, keys["created_at"]), reverse=order.startswith("-"))
    return items


def _query_list(ctx: Ctx, archived: bool) -> Response:
    objs = ctx.state.objects
    return page_response(ctx, _sorted_queries(ctx, archived), lambda q: objs.query_json(q, "list"))


async def list_queries(ctx: Ctx) -> Response:
    """:return: a page of the queries not archived (``q``, ``tags``, ``order`` applied)."""
    return _query_list(ctx, archived=False)


async def list_archived_queries(ctx: Ctx) -> Response:
    """:return: a page of the archived queries."""
    return _query_list(ctx, archived=True)


async def create_query(ctx: Ctx) -> Response:
    """:return: the new query (a draft with a TABLE visualization)."""
    body = ctx.body
    objs = ctx.state.objects
    ds_id = body.get("data_source_id")
    if not body.get("name") or not isinstance(ds_id, int) or ds_id not in objs.data_sources:
        raise HTTPError(500, INTERNAL)
    query = objs.add_query(
        str(body["name"]),
        str(body.get("query") or ""),
        ds_id,
        description=body.get("description"),
        options=body.get("options") or {},
        tags=list(body.get("tags") or []),
        schedule=body.get("schedule"),
    )
    return json_response(objs.query_json(query, "saved"))


async def fork_query(ctx: Ctx) -> Response:
    """:return: the fork of the query."""
    # query_fork.json: a draft copy named "Copy of (#<id>) <name>" with the source's SQL, data
    # source, description, tags and options, and copies of its visualizations (new ids).
    require_user(ctx)
    objs = ctx.state.objects
    fork = objs.fork_query(query_of(ctx))
    return json_response(objs.query_json(fork, "saved"))


async def get_query(ctx: Ctx) -> Response:
    """:return: the query with its visualizations."""
    out = ctx.state.objects.query_json(query_of(ctx), "full")
    if ctx.auth.is_api_user:
        del out["is_favorite"]  # a query key is not a user: nothing can be its favourite
    return json_response(out)


async def edit_query(ctx: Ctx) -> Response:
    """:return: the edited query. :raises HTTPError: 409 when ``version`` is not the saved one."""
    require_user(ctx)
    query = query_of(ctx)
    body = ctx.body
    objs = ctx.state.objects
    with objs.lock:
        if "version" in body and body["version"] != query.version:
            raise HTTPError(409, CONFLICT)
        apply_fields(query, body, _EDITABLE)
        if query.options is None:
            query.options = {}
        query.updated_at = utcnow()
    return json_response(objs.query_json(query, "saved"))


async def archive_query(ctx: Ctx) -> Response:
    """:return: null; the query is archived and unscheduled."""
    require_user(ctx)
    query = query_of(ctx)
    query.is_archived = True
    query.schedule = None  # archiving unschedules the query
    query.updated_at = utcnow()
    return json_response(None)


async def refresh_query(ctx: Ctx) -> Response:
    """:return: a new job for the query, with ``p_<name>`` query-string values."""
    require_user(ctx)
    query = query_of(ctx)
    values = {k[2:]: v for k, v in ctx.request.query_params.items() if k.startswith("p_")}
    # The legacy endpoint builds the query without its definitions: nothing is validated.
    return run(ctx.state, query.query, None, values, query.data_source_id, query, age=0)
