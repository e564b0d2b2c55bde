"""The Redash emulator's query results: answering from the cache or with a new job, result downloads
(JSON, CSV, TSV, xlsx) and the ad-hoc query route."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from . import parameters as params
from .redash_http import (
    HTML_500,
    INTERNAL,
    NO_CACHED,
    NOT_FOUND,
    SELECT_DS,
    UNSAFE,
    Ctx,
    HTTPError,
    int_or_500,
    job_error,
    json_response,
    lookup,
    query_of,
)
from .redash_sql import query_hash, sleep_seconds
from .redash_time import utcnow

if TYPE_CHECKING:
    from .objects import Query
    from .redash_sql import ResultMeta
    from .redash_state import RedashState

_MIME = {
    "csv": "text/csv; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_INLINE_ROWS = 5000  # results up to this size are answered in one piece, larger ones streamed


def result_json(state: RedashState, meta: ResultMeta) -> dict[str, Any]:
    """:return: ``{"query_result": ...}`` built in memory (small results)."""
    data = {"columns": meta.columns, "rows": state.results.rows_as_dicts(meta)}
    return {"query_result": {**meta.head(), "data": data, **meta.tail()}}


def _json_answer(state: RedashState, meta: ResultMeta, headers: dict[str, str] | None = None) -> Response:
    """:return: the result as JSON: in one piece when small, else streamed a batch of rows at a time."""
    if meta.row_count <= _INLINE_ROWS:
        return json_response(result_json(state, meta), headers=headers)
    return StreamingResponse(state.results.json_chunks(meta), media_type="application/json", headers=headers)


def _result_response(
    state: RedashState, meta: ResultMeta, ext: str | None, filename_base: str, cache: bool
) -> Response:
    headers: dict[str, str] = {}
    if cache:
        headers["Cache-Control"] = "private,max-age=31557600"
    stamp = utcnow().strftime("%Y_%m_%d")
    fmt = (ext or "json").lower()
    if fmt not in ("json", "csv", "tsv", "xlsx"):
        raise HTTPError(500, INTERNAL)
    headers["Content-Disposition"] = f"attachment; filename={filename_base}_{stamp}.{fmt}"
    results = state.results
    if fmt == "json":
        return _json_answer(state, meta, headers)
    if fmt == "xlsx":
        from .xlsx import xlsx_bytes

        return Response(xlsx_bytes(meta, results), media_type=_MIME["xlsx"], headers=headers)
    delimiter = "," if fmt == "csv" else "\t"
    if meta.row_count <= _INLINE_ROWS:
        return Response(b"".join(results.text_chunks(meta, delimiter)), media_type=_MIME[fmt], headers=headers)
    return StreamingResponse(results.text_chunks(meta, delimiter), media_type=_MIME[fmt], headers=headers)


def _filename(query: Query) -> str:
    return re.sub(r"\W+", "_", query.name)


def max_age(body: dict[str, Any]) -> float:
    """:return: the request's ``max_age`` (-1, any age, when absent or null).

    :raises HTTPError: 500 for a value that is not a number, as Redash answers.
    """
    value = body.get("max_age", -1)
    if value is None:
        return -1
    try:
        return float(value)
    except (TypeError, ValueError):
        raise HTTPError(500, INTERNAL) from None


def parameter_values(body: dict[str, Any]) -> dict[str, Any]:
    """:return: the request's ``parameters`` (none when absent or not an object)."""
    values = body.get("parameters") or {}
    return values if isinstance(values, dict) else {}


def run(
    state: RedashState,
    sql_template: str,
    definitions: list[dict[str, Any]] | None,
    values: dict[str, Any],
    data_source_id: int,
    query: Query | None,
    age: float,
) -> Response:
    """Check and fill the parameters, then answer with a cached result at most ``age`` emulated
    seconds old (-1 = any, 0 = never) or with a job (a new one, or the live one for the same text).

    :return: ``{"query_result": ...}`` or ``{"job": ...}``.
    :raises HTTPError: 400 for invalid or missing parameter values.
    """
    try:
        params.validate(definitions, values)
    except params.InvalidParameters as exc:
        raise HTTPError(400, str(exc)) from None
    missing = params.missing_names(sql_template, values)
    if missing:
        raise job_error(400, params.MISSING_MESSAGE.format(", ".join(missing)))
    sql = params.substitute(sql_template, values, definitions)
    if age != 0:
        cached = state.results.latest(query_hash(sql), data_source_id, age)
        if cached is not None:
            return _json_answer(state, cached)
    delay = query.delay if query is not None and query.delay is not None else sleep_seconds(sql)
    job = state.jobs.submit(sql, data_source_id, query.id if query else None, values, delay)
    return json_response({"job": job.to_json()})


async def latest_results(ctx: Ctx) -> Response:
    """:return: the query's latest result (in the format of the route's extension)."""
    query = query_of(ctx)
    results = ctx.state.results
    meta = results.get(query.latest_query_data_id) if query.latest_query_data_id else None
    if meta is None:
        raise HTTPError(404, NO_CACHED)
    return _result_response(ctx.state, meta, ctx.args.get("ext"), _filename(query), cache=False)


async def query_result_of_query(ctx: Ctx) -> Response:
    """:return: a result by id under its query's route (a query key only sees its own query's)."""
    ext = ctx.args.get("ext")
    if ext is None:
        return Response(HTML_500, status_code=500, media_type="text/html; charset=utf-8")
    query = query_of(ctx)
    meta = ctx.state.results.get(int_or_500(ctx.args["result_id"]))
    if meta is None:
        raise HTTPError(404, NOT_FOUND)
    if ctx.auth.is_api_user and meta.query_hash != query.query_hash:
        raise HTTPError(404, NO_CACHED)
    return _result_response(ctx.state, meta, ext, _filename(query), cache=True)


async def query_result_by_id(ctx: Ctx) -> Response:
    """:return: a result by id (in the format of the route's extension)."""
    rid = int_or_500(ctx.args["result_id"])
    meta = ctx.state.results.get(rid)
    if meta is None:
        raise HTTPError(404, NOT_FOUND)
    return _result_response(ctx.state, meta, ctx.args.get("ext"), str(rid), cache=True)


async def adhoc_query(ctx: Ctx) -> Response:
    """:return: a cached result or a job for the SQL in the body (no parameter definitions)."""
    body = ctx.body
    if body.get("data_source_id") in (None, ""):
        raise job_error(401, SELECT_DS)
    ds = lookup(ctx.state.objects.data_sources, str(body["data_source_id"]))
    return run(ctx.state, str(body.get("query") or ""), None, parameter_values(body), ds.id, None, max_age(body))


async def execute_query(ctx: Ctx) -> Response:
    """:return: a cached result or a job for a saved query with the body's parameter values."""
    query = query_of(ctx)
    if ctx.auth.is_api_user and not params.is_safe(query.parameters):
        raise job_error(403, UNSAFE)
    values = parameter_values(ctx.body)
    response = run(ctx.state, query.query, query.parameters, values, query.data_source_id, query, max_age(ctx.body))
    if ctx.auth.is_api_user and response.status_code == 200 and not isinstance(response, StreamingResponse):
        answer = json.loads(bytes(response.body))
        if "query_result" in answer:
            # Redash shows a query key only the public part of an inline result
            answer["query_result"] = {k: answer["query_result"][k] for k in ("data", "retrieved_at")}
            return json_response(answer)
    return response
