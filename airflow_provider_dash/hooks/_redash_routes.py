"""Redash routes: every (method, path template) the hook and the async client may send, built in one place.

Each route is a :class:`Route` registered in :data:`ROUTES` when this module is imported; a
:class:`Request` can only be made from a route (:meth:`Route.request`), so the list of what the
client can send is :data:`ROUTES` itself (all three build on the product-neutral
:mod:`airflow_provider_dash.http_routes`). ``tests/test_route_guard.py`` checks that list
against the recordings of a real server: a route no recording shows answering 2xx fails the test.

Stdlib only: the operators import the job texts next door on every DAG parse.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airflow_provider_dash import http_routes
from airflow_provider_dash.exceptions import DashConfigError


@dataclass(frozen=True, slots=True)
class Route(http_routes.Route):
    """One kind of request the client sends: a method and a path template.

    :param method: HTTP method.
    :param template: the path relative to the base URL, ``{name}`` for each argument; it may end
        with a fixed query string (``?legacy``).
    :param idempotent: safe to send again when the answer was lost. Creating objects is not.
    :param retry_500: a 500 is worth another try. Not for a cancel: Redash answers 500 for a job
        that already ended, and sending the DELETE again cannot change that.
    :param job_route: Redash answers 500 here for an unknown or expired job id.
    :param execution: executes a query; retries raise ``max_age`` 0 (see :func:`for_retry`).
    :param stream: the body is read as a stream (downloads).
    """

    job_route: bool = False
    execution: bool = False
    stream: bool = False

    def request(
        self, what: str, *, params: Mapping[str, Any] | None = None, json: Any = None, **path_args: Any
    ) -> Request:
        """A request on this route; path arguments are URL-quoted (no ``/`` survives)."""
        quoted = {name: quote(str(value), safe="") for name, value in path_args.items()}
        return Request(self, self.template.format(**quoted), what, params, json)


@dataclass(frozen=True, slots=True)
class Request(http_routes.Request[Route]):
    """One Redash request, transport-neutral, made by :meth:`Route.request`; its fields are
    :class:`airflow_provider_dash.http_routes.Request`'s."""

    @property
    def stream(self) -> bool:
        """Read the body as a stream."""
        return self.route.stream

    @property
    def job_route(self) -> bool:
        """A 500 here means an unknown or expired job."""
        return self.route.job_route

    @property
    def execution(self) -> bool:
        """Executes a query."""
        return self.route.execution


#: Every route the client can send, in definition order.
ROUTES = http_routes.RouteList(Route)
_route = ROUTES.add


# --------------------------------------------------------------------------- the routes

LIST_QUERIES = _route("GET", "api/queries")
LIST_ARCHIVED_QUERIES = _route("GET", "api/queries/archive")
GET_QUERY = _route("GET", "api/queries/{query_id}")
CREATE_QUERY = _route("POST", "api/queries", idempotent=False)
EDIT_QUERY = _route("POST", "api/queries/{query_id}")
ARCHIVE_QUERY = _route("DELETE", "api/queries/{query_id}")
LATEST_RESULT = _route("GET", "api/queries/{query_id}/results")
EXECUTE_QUERY = _route("POST", "api/queries/{query_id}/results", execution=True)
EXECUTE_SQL = _route("POST", "api/query_results", execution=True)
REFRESH_QUERY = _route("POST", "api/queries/{query_id}/refresh", idempotent=False)
GET_JOB = _route("GET", "api/jobs/{job_id}", job_route=True)
# The query-scoped job route serves GET only (a DELETE there answers 500 and the job runs on);
# it is the one job route a query API key may read.
GET_QUERY_JOB = _route("GET", "api/queries/{query_id}/jobs/{job_id}", job_route=True)
CANCEL_JOB = _route("DELETE", "api/jobs/{job_id}", job_route=True, retry_500=False)
QUERY_RESULT = _route("GET", "api/query_results/{result_id}")
QUERY_RESULT_OF_QUERY = _route("GET", "api/queries/{query_id}/results/{result_id}.json")
DOWNLOAD_RESULT = _route("GET", "api/query_results/{result_id}.{file_format}", stream=True)
DOWNLOAD_RESULT_OF_QUERY = _route("GET", "api/queries/{query_id}/results/{result_id}.{file_format}", stream=True)
LIST_DASHBOARDS = _route("GET", "api/dashboards")
GET_DASHBOARD = _route("GET", "api/dashboards/{dashboard_id}")
GET_DASHBOARD_BY_SLUG = _route("GET", "api/dashboards/{slug}?legacy")
CREATE_DASHBOARD = _route("POST", "api/dashboards", idempotent=False)
EDIT_DASHBOARD = _route("POST", "api/dashboards/{dashboard_id}")
ARCHIVE_DASHBOARD = _route("DELETE", "api/dashboards/{dashboard_id}")
SESSION = _route("GET", "api/session")
LIST_DATA_SOURCES = _route("GET", "api/data_sources")
GET_DATA_SOURCE = _route("GET", "api/data_sources/{data_source_id}")
# query_fork.json: a draft copy named "Copy of (#<id>) <name>" with copies of the visualizations.
FORK_QUERY = _route("POST", "api/queries/{query_id}/fork", idempotent=False)
# visualization_and_widget_edit.json, dashboard_setup_widgets.json
CREATE_VISUALIZATION = _route("POST", "api/visualizations", idempotent=False)
EDIT_VISUALIZATION = _route("POST", "api/visualizations/{visualization_id}")
CREATE_WIDGET = _route("POST", "api/widgets", idempotent=False)

DOWNLOAD_FORMATS = ("csv", "json", "tsv", "xlsx")


# --------------------------------------------------------------------------- request builders


def _id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            return int(value)
        raise DashConfigError(f"{what} must be a whole number, got {value!r}")
    return value


def _page_params(page: int, page_size: int, search: str | None, tags: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"page": page, "page_size": page_size}
    if search:
        params["q"] = search
    if tags:
        params["tags"] = list(tags)
    return params


def list_queries_request(
    page: int, page_size: int, *, search: str | None = None, tags: Any = None, archived: bool = False
) -> Request:
    """GET one page of saved queries (``/api/queries`` or ``/api/queries/archive``)."""
    route = LIST_ARCHIVED_QUERIES if archived else LIST_QUERIES
    return route.request(
        "archived queries" if archived else "queries", params=_page_params(page, page_size, search, tags)
    )


def get_query_request(query_id: int) -> Request:
    """GET one saved query."""
    qid = _id(query_id, "query_id")
    return GET_QUERY.request(f"query {qid}", query_id=qid)


def create_query_request(body: Mapping[str, Any]) -> Request:
    """POST a new query (not idempotent: a lost answer must not create it twice)."""
    return CREATE_QUERY.request(f"new query {body.get('name')!r}", json=dict(body))


def edit_query_request(query_id: int, body: Mapping[str, Any]) -> Request:
    """POST changes to a saved query."""
    qid = _id(query_id, "query_id")
    return EDIT_QUERY.request(f"query {qid}", json=dict(body), query_id=qid)


def archive_query_request(query_id: int) -> Request:
    """DELETE (archive) a saved query."""
    qid = _id(query_id, "query_id")
    return ARCHIVE_QUERY.request(f"query {qid}", query_id=qid)


def latest_result_request(query_id: int) -> Request:
    """GET the latest cached result of a saved query (404 when it never ran without parameters)."""
    qid = _id(query_id, "query_id")
    return LATEST_RESULT.request(f"the latest result of query {qid}", query_id=qid)


def execute_query_request(query_id: int, parameters: Mapping[str, Any] | None, max_age: int | None) -> Request:
    """POST to execute a saved query; the answer is a cached result or a job."""
    qid = _id(query_id, "query_id")
    body: dict[str, Any] = {"max_age": max_age}
    if parameters:
        body["parameters"] = dict(parameters)
    return EXECUTE_QUERY.request(f"query {qid}", json=body, query_id=qid)


def execute_sql_request(
    sql: str, data_source_id: int, max_age: int | None, parameters: Mapping[str, Any] | None = None
) -> Request:
    """POST ad-hoc SQL to ``/api/query_results``; the answer is a cached result or a job."""
    dsid = _id(data_source_id, "data_source_id")
    body: dict[str, Any] = {"query": sql, "data_source_id": dsid, "max_age": max_age}
    if parameters:
        body["parameters"] = dict(parameters)
    return EXECUTE_SQL.request(f"ad-hoc SQL on data source {dsid}", json=body)


def refresh_query_request(query_id: int, parameters: Mapping[str, Any] | None = None) -> Request:
    """POST the legacy ``/refresh`` (always executes; values are ``p_<name>`` and unchecked by Redash)."""
    qid = _id(query_id, "query_id")
    params = {f"p_{name}": value for name, value in (parameters or {}).items()}
    return REFRESH_QUERY.request(f"query {qid}", params=params or None, query_id=qid)


def _job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id.strip():
        raise DashConfigError(f"job_id must be a non-empty string, got {job_id!r}")
    return job_id.strip()


def job_what(job_id: str, query_id: int | None) -> str:
    """ "job <id> of query <qid>" (or "job <id>"), as error texts name a job."""
    return f"job {job_id}" + (f" of query {query_id}" if query_id is not None else "")


def get_job_request(job_id: str, query_id: int | None = None) -> Request:
    """GET a job's state: through its query when the query id is known (the only job route a query
    key may read; user keys read it too), else ``/api/jobs/<id>``."""
    jid = _job_id(job_id)
    if query_id is None:
        return GET_JOB.request(job_what(jid, None), job_id=jid)
    qid = _id(query_id, "query_id")
    return GET_QUERY_JOB.request(job_what(jid, qid), query_id=qid, job_id=jid)


def cancel_job_request(job_id: str) -> Request:
    """DELETE (cancel) a job: always ``/api/jobs/<id>``, the only route that cancels (user keys only)."""
    jid = _job_id(job_id)
    return CANCEL_JOB.request(f"job {jid}", job_id=jid)


def check_download_format(file_format: str) -> str:
    """Return ``file_format`` lower-cased, or raise when it is not one Redash can export.

    :raises DashConfigError: listing the allowed formats.
    """
    fmt = str(file_format).lower().lstrip(".")
    if fmt not in DOWNLOAD_FORMATS:
        raise DashConfigError(
            f"Download format {file_format!r} is not supported; use one of {', '.join(DOWNLOAD_FORMATS)}"
        )
    return fmt


def query_result_request(result_id: int, query_id: int | None = None) -> Request:
    """GET a stored result as JSON (through its query when ``query_id`` is given, for query keys)."""
    rid = _id(result_id, "result_id")
    if query_id is None:
        return QUERY_RESULT.request(f"query result {rid}", result_id=rid)
    qid = _id(query_id, "query_id")
    return QUERY_RESULT_OF_QUERY.request(f"query result {rid} of query {qid}", query_id=qid, result_id=rid)


def download_request(result_id: int, file_format: str, query_id: int | None = None) -> Request:
    """GET a stored result as a file (csv, json, tsv, xlsx), streamed."""
    rid = _id(result_id, "result_id")
    fmt = check_download_format(file_format)
    if query_id is None:
        return DOWNLOAD_RESULT.request(f"query result {rid} ({fmt})", result_id=rid, file_format=fmt)
    qid = _id(query_id, "query_id")
    return DOWNLOAD_RESULT_OF_QUERY.request(
        f"query result {rid} of query {qid} ({fmt})", query_id=qid, result_id=rid, file_format=fmt
    )


def list_dashboards_request(page: int, page_size: int, *, search: str | None = None, tags: Any = None) -> Request:
    """GET one page of dashboards (drafts included, archived not)."""
    return LIST_DASHBOARDS.request("dashboards", params=_page_params(page, page_size, search, tags))


def get_dashboard_request(dashboard: int | str) -> Request:
    """GET one dashboard: an int or all-digit string is an id; another string is a slug (``?legacy``)."""
    if isinstance(dashboard, bool):
        raise DashConfigError(f"dashboard must be an id or a slug, got {dashboard!r}")
    if isinstance(dashboard, int) or (isinstance(dashboard, str) and dashboard.strip().isdigit()):
        did = int(dashboard)
        return GET_DASHBOARD.request(f"dashboard {did}", dashboard_id=did)
    if not isinstance(dashboard, str) or not dashboard.strip():
        raise DashConfigError(f"dashboard must be an id or a slug, got {dashboard!r}")
    slug = dashboard.strip()
    # Redash takes the numeric id; a slug only works with ``?legacy`` (and then only a slug works).
    return GET_DASHBOARD_BY_SLUG.request(f"dashboard {slug!r}", slug=slug)


def create_dashboard_request(name: str) -> Request:
    """POST a new dashboard (created as a draft; not idempotent)."""
    return CREATE_DASHBOARD.request(f"new dashboard {name!r}", json={"name": name})


def edit_dashboard_request(dashboard_id: int, body: Mapping[str, Any]) -> Request:
    """POST changes to a dashboard (by numeric id)."""
    did = _id(dashboard_id, "dashboard_id")
    return EDIT_DASHBOARD.request(f"dashboard {did}", json=dict(body), dashboard_id=did)


def archive_dashboard_request(dashboard_id: int) -> Request:
    """DELETE (archive) a dashboard (by numeric id)."""
    did = _id(dashboard_id, "dashboard_id")
    return ARCHIVE_DASHBOARD.request(f"dashboard {did}", dashboard_id=did)


def session_request() -> Request:
    """GET ``/api/session`` (the key's user and the server version; user keys only)."""
    return SESSION.request("the session of this API key")


def list_data_sources_request() -> Request:
    """GET every data source."""
    return LIST_DATA_SOURCES.request("data sources")


def get_data_source_request(data_source_id: int) -> Request:
    """GET one data source (its ``options`` only for an admin's key)."""
    dsid = _id(data_source_id, "data_source_id")
    return GET_DATA_SOURCE.request(f"data source {dsid}", data_source_id=dsid)


def fork_query_request(query_id: int) -> Request:
    """POST a fork of a saved query (a draft copy with copies of its visualizations; not idempotent)."""
    qid = _id(query_id, "query_id")
    return FORK_QUERY.request(f"a fork of query {qid}", query_id=qid)


def create_visualization_request(body: Mapping[str, Any]) -> Request:
    """POST a new visualization (``query_id``, ``type``, ``name``, ``description``, ``options``)."""
    return CREATE_VISUALIZATION.request(
        f"new visualization {body.get('name')!r} of query {body.get('query_id')}", json=dict(body)
    )


def edit_visualization_request(visualization_id: int, body: Mapping[str, Any]) -> Request:
    """POST changes to a visualization."""
    vid = _id(visualization_id, "visualization_id")
    return EDIT_VISUALIZATION.request(f"visualization {vid}", json=dict(body), visualization_id=vid)


def create_widget_request(body: Mapping[str, Any]) -> Request:
    """POST a new widget (``dashboard_id``, ``visualization_id`` or null for text, ``text``, ``width``, ``options``)."""
    return CREATE_WIDGET.request(f"new widget on dashboard {body.get('dashboard_id')}", json=dict(body))


def for_retry(request: Request, first_attempt_at: float, now: float | None = None) -> Request:
    """The request to send again after a failed attempt.

    Executing with ``max_age=0`` always runs the query, so a retried POST whose first answer was lost
    could run it twice. On a retry we send ``max_age = ceil(seconds since the first attempt) + 1``
    instead: if the first attempt ran and finished meanwhile, Redash hands back that fresh result; if
    it is still running, Redash returns the same job id (it reuses the job of identical SQL in
    flight). Either way the query runs once, and the result is never older than the first attempt.

    :param first_attempt_at: ``time.monotonic()`` when the first attempt started.
    """
    if not request.execution or not isinstance(request.json, Mapping) or request.json.get("max_age") != 0:
        return request
    elapsed = (time.monotonic() if now is None else now) - first_attempt_at
    body = dict(request.json)
    body["max_age"] = math.ceil(max(0.0, elapsed)) + 1
    return dataclasses.replace(request, json=body)
