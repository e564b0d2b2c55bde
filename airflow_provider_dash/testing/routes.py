"""The HTTP side of the emulator: an ASGI app with Redash's routes, auth and error shapes.

Every quirk listed in the recorded server's README is reproduced here: auth failures are 404,
unknown jobs are 500, two shapes of errors, pagination limits, dashboard slugs, downloads...
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import faults as fault_actions
from . import parameters as params
from .engine import ResultMeta, sleep_seconds, utcnow
from .objects import Query

if TYPE_CHECKING:
    from .server import RedashEmulator

NOT_LOGGED_IN = "Couldn't find resource. Please login and try again."
NOT_FOUND = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."  # noqa: E501 - literal text
NO_CACHED = "No cached result found for this query."
CONFLICT = "A conflict happened while processing the request. The resource might have been modified while the request was being processed."  # noqa: E501 - literal text
UNSAFE = "This query contains potentially unsafe parameters and cannot be executed on a shared dashboard or an embedded visualization."  # noqa: E501 - literal text
SELECT_DS = "Please select data source to run this query."
HTML_500 = (
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request. Either the server is "
    "overloaded or there is an error in the application.</p>\n"
)
HTML_429_LOGIN = "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n<h1>Too Many Requests</h1>\n<p>50 per 1 hour</p>\n"  # noqa: E501 - literal text
HTML_429 = "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n<h1>Too Many Requests</h1>\n<p>Rate limit exceeded</p>\n"  # noqa: E501 - literal text
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html class="no-js">\n<head>\n  <title>Login to Redash</title>\n</head>\n<body>\n'
    '<form method="post"><input name="email"><input name="password" type="password"></form>\n'
    '<div class="alert alert-danger">Wrong email or password.</div>\n</body>\n</html>\n'
)
_MIME = {
    "csv": "text/csv; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_INLINE_ROWS = 5000  # results up to this size are answered in one piece, larger ones streamed
LOGIN_LIMIT = 50
LOGIN_WINDOW = 3600.0


class HTTPError(Exception):
    """Answer with ``status`` and a JSON ``{"message": ...}`` (or ``body`` when given)."""

    def __init__(self, status: int, message: str = "", body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"message": message}


def _job_error(status: int, message: str) -> HTTPError:
    return HTTPError(status, body={"job": {"status": 4, "error": message}})


def _int_or_500(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise HTTPError(500, "Internal Server Error") from None


@dataclass
class Auth:
    """Who is calling: the admin (user key), a plain user (``admin`` False) or a query's own key
    (``query`` set)."""

    query: Query | None = None
    admin: bool = True

    @property
    def is_api_user(self) -> bool:
        """:return: True for a query key."""
        return self.query is not None


@dataclass
class Ctx:
    """One request being handled."""

    request: Request
    args: dict[str, str]
    auth: Auth
    body: dict[str, Any]


Handler = Callable[[Ctx], Awaitable[Response]]


@dataclass
class Route:
    """A route: regex, the template it is counted under, handlers per method, auth need."""

    pattern: re.Pattern[str]
    template: str
    handlers: dict[str, Handler]
    auth: bool = True


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """:return: a JSON answer (compact separators like Flask's)."""
    body = json.dumps(data, separators=(", ", ": "))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class RedashApp:
    """The ASGI application of one :class:`RedashEmulator`."""

    def __init__(self, emu: RedashEmulator) -> None:
        self.emu = emu
        self.routes: list[Route] = []
        self._login_attempts: dict[str, list[float]] = {}
        self._build_routes()

    # -- routing table -----------------------------------------------------------------------
    def _add(self, regex: str, template: str, handlers: dict[str, Handler], auth: bool = True) -> None:
        self.routes.append(Route(re.compile("^" + regex + "$"), template, handlers, auth))

    def _build_routes(self) -> None:
        seg = r"(?P<{}>[^/]+)"
        seg_noext = r"(?P<{}>[^/.]+)"
        a = self._add
        a("/ping", "/ping", {"GET": self.ping}, auth=False)
        a("/login", "/login", {"POST": self.login}, auth=False)  # rate_limits.json
        a("/api/config", "/api/config", {"GET": self.config}, auth=False)
        a("/api/session", "/api/session", {"GET": self.session})
        a("/api/organization/status", "/api/organization/status", {"GET": self.org_status})
        a("/api/data_sources", "/api/data_sources", {"GET": self.data_sources, "POST": self.create_data_source})
        a(
            "/api/data_sources/" + seg.format("ds_id"),
            "/api/data_sources/{data_source_id}",
            {"GET": self.get_data_source},
        )
        a(
            "/api/data_sources/" + seg.format("ds_id") + "/test",
            "/api/data_sources/{data_source_id}/test",
            {"POST": self.test_data_source},
        )
        a("/api/queries", "/api/queries", {"GET": self.list_queries, "POST": self.create_query})
        a("/api/queries/archive", "/api/queries/archive", {"GET": self.list_archived_queries})
        a(
            "/api/queries/" + seg.format("query_id"),
            "/api/queries/{query_id}",
            {"GET": self.get_query, "POST": self.edit_query, "DELETE": self.archive_query},
        )
        a(
            "/api/queries/" + seg_noext.format("query_id") + "/results",
            "/api/queries/{query_id}/results",
            {"GET": self.latest_results, "POST": self.execute_query},
        )
        a(
            "/api/queries/" + seg_noext.format("query_id") + r"/results\.(?P<ext>[^/]+)",
            "/api/queries/{query_id}/results.{filetype}",
            {"GET": self.latest_results},
        )
        a(
            "/api/queries/"
            + seg.format("query_id")
            + "/results/"
            + seg_noext.format("result_id")
            + r"(?:\.(?P<ext>[^/]+))?",
            "/api/queries/{query_id}/results/{query_result_id}.{filetype}",
            {"GET": self.query_result_of_query},
        )
        a("/api/queries/" + seg.format("query_id") + "/fork", "/api/queries/{query_id}/fork", {"POST": self.fork_query})
        a(
            "/api/queries/" + seg.format("query_id") + "/refresh",
            "/api/queries/{query_id}/refresh",
            {"POST": self.refresh_query},
        )
        a(
            "/api/queries/" + seg.format("query_id") + "/jobs/" + seg.format("job_id"),
            "/api/queries/{query_id}/jobs/{job_id}",
            {"GET": self.get_job, "DELETE": self.cancel_job_wrong_route},
        )
        a("/api/jobs/" + seg.format("job_id"), "/api/jobs/{job_id}", {"GET": self.get_job, "DELETE": self.cancel_job})
        a("/api/query_results", "/api/query_results", {"POST": self.adhoc_query})
        a(
            "/api/query_results/" + seg_noext.format("result_id") + r"(?:\.(?P<ext>[^/]+))?",
            "/api/query_results/{query_result_id}",
            {"GET": self.query_result_by_id},
        )
        a("/api/dashboards", "/api/dashboards", {"GET": self.list_dashboards, "POST": self.create_dashboard})
        a("/api/dashboards/my", "/api/dashboards/my", {"GET": self.list_dashboards})
        a("/api/dashboards/favorites", "/api/dashboards/favorites", {"GET": self.favorite_dashboards})
        a(
            "/api/dashboards/" + seg.format("dashboard_id"),
            "/api/dashboards/{dashboard_id}",
            {"GET": self.get_dashboard, "POST": self.edit_dashboard, "DELETE": self.archive_dashboard},
        )
        a("/api/widgets", "/api/widgets", {"POST": self.create_widget})
        a(
            "/api/widgets/" + seg.format("widget_id"),
            "/api/widgets/{widget_id}",
            {"POST": self.edit_widget, "DELETE": self.delete_widget},
        )
        a("/api/visualizations", "/api/visualizations", {"POST": self.create_visualization})
        a(
            "/api/visualizations/" + seg.format("viz_id"),
            "/api/visualizations/{visualization_id}",
            {"POST": self.edit_visualization, "DELETE": self.delete_visualization},
        )

    def match(self, path: str) -> tuple[Route | None, dict[str, str]]:
        """:return: the route matching ``path`` (None if none) and its path arguments."""
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                return route, {k: v for k, v in m.groupdict().items() if v is not None}
        return None, {}

    # -- ASGI entry point --------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        emu = self.emu
        counters = emu.counters
        counters.request_began()
        status = 0
        method = scope["method"].upper()
        path = scope["path"]
        base = emu.base_path
        route: Route | None = None
        args: dict[str, str] = {}
        if not base or path == base or path.startswith(base + "/"):
            route, args = self.match(path[len(base) :] or "/")
        template = route.template if route else "<unmatched>"
        query = scope.get("query_string") or b""
        target = path + ("?" + query.decode("latin-1") if query else "")
        recorded = False
        try:
            decision = emu.faults.decide(template, path, method)
            if decision.latency > 0:
                await asyncio.sleep(decision.latency)
            if decision.action == fault_actions.DROP:
                recorded = True
                counters.record_request(template, method, 0, target)
                await self._drop(scope)
                return
            response = self._injected(decision)
            if response is None:
                response = await self._dispatch(scope, receive, route, args, method)
            status = response.status_code
            # Counted before the answer goes out: a client holding the answer finds it counted.
            recorded = True
            counters.record_request(template, method, status, target)
            await response(scope, receive, send)
        finally:
            if not recorded:
                counters.record_request(template, method, status, target)
            counters.request_ended()

    async def _drop(self, scope: dict[str, Any]) -> None:
        client = scope.get("client")
        transport = self.emu._transports.get(tuple(client)) if client else None
        if transport is not None:
            transport.close()
        # let connection_lost run, so the server does not try to answer on a closed socket
        for _ in range(3):
            await asyncio.sleep(0)

    def _injected(self, decision: fault_actions.FaultDecision) -> Response | None:
        if decision.action == fault_actions.RATE_LIMIT:
            retry = str(self.emu.faults.config.retry_after)
            return Response(
                HTML_429, status_code=429, media_type="text/html; charset=utf-8", headers={"Retry-After": retry}
            )
        if decision.action == fault_actions.ERROR:
            if decision.status == 500:
                return json_response({"message": "Internal Server Error"}, 500)
            reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
                decision.status, "Error"
            )
            html = f"<html>\r\n<head><title>{decision.status} {reason}</title></head>\r\n<body>\r\n<center><h1>{decision.status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"  # noqa: E501 - literal text
            return Response(html, status_code=decision.status, media_type="text/html")
        return None

    async def _dispatch(
        self, scope: dict[str, Any], receive: Any, route: Route | None, args: dict[str, str], method: str
    ) -> Response:
        if route is None:
            return json_response({"message": NOT_FOUND}, 404)
        handler = route.handlers.get(method)
        if handler is None:
            # A (method, route) no recording shows is answered like an unknown route: the emulator
            # must not invent behaviour a real server was never seen to have.
            return json_response({"message": NOT_FOUND}, 404)
        request = Request(scope, receive)
        auth = Auth()
        if route.auth:
            found = self._authenticate(request, args.get("query_id"))
            if found is None:
                return json_response({"message": NOT_LOGGED_IN}, 404)
            auth = found
        body: dict[str, Any] = {}
        if method in ("POST", "PUT", "PATCH"):
            raw = await request.body()
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {}
            body = parsed if isinstance(parsed, dict) else {}
        try:
            response = await handler(Ctx(request, args, auth, body))
        except HTTPError as exc:
            return json_response(exc.body, exc.status)
        except Exception:
            self.emu.log_exception()
            return json_response({"message": "Internal Server Error"}, 500)
        return self._maybe_malformed(response)

    def _maybe_malformed(self, response: Response) -> Response:
        if response.status_code != 200 or isinstance(response, StreamingResponse):
            return response
        if not (response.media_type or "").startswith("application/json"):
            return response
        if not self.emu.faults.take_malformed():
            return response
        raw = bytes(response.body)
        broken = raw[: max(1, len(raw) // 2)] if len(raw) > 4 else b"{"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return Response(broken, status_code=200, media_type="application/json", headers=headers)

    def _authenticate(self, request: Request, query_id: str | None) -> Auth | None:
        # Redash: ?api_key= first, else the Authorization header with "Key " removed once.
        key = request.query_params.get("api_key")
        if key is None:
            header = request.headers.get("authorization")
            if header:
                key = header.replace("Key ", "", 1)
        if not key:
            return None
        if key == self.emu.user_key:
            return Auth()
        if key == self.emu.plain_user_key:
            return Auth(admin=False)
        if query_id is not None and query_id.isdigit():
            query = self.emu.objects.queries.get(int(query_id))
            if query is not None and query.api_key == key:
                return Auth(query=query)
        return None

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _require_user(ctx: Ctx) -> None:
        if ctx.auth.is_api_user:
            raise HTTPError(403, "Please use a user API key.")

    def _query(self, query_id: str) -> Query:
        qid = _int_or_500(query_id)
        query = self.emu.objects.queries.get(qid)
        if query is None:
            raise HTTPError(404, NOT_FOUND)
        return query

    @staticmethod
    def _paging(ctx: Ctx, items: list[Any]) -> tuple[int, int, list[Any]]:
        def as_int(name: str, default: int) -> int:
            try:
                return int(ctx.request.query_params.get(name, default))
            except ValueError:
                return default

        page, size = as_int("page", 1), as_int("page_size", 25)
        count = len(items)
        if page < 1:
            raise HTTPError(400, "Page must be positive integer.")
        if (page - 1) * size + 1 > count > 0:
            raise HTTPError(400, "Page is out of range.")
        if size > 250 or size < 1:
            raise HTTPError(400, "Page size is out of range (1-250).")
        return page, size, items[(page - 1) * size : page * size]

    def _page_response(self, ctx: Ctx, items: list[Any], serialise: Callable[[Any], Any]) -> Response:
        page, size, chunk = self._paging(ctx, items)
        return json_response(
            {"count": len(items), "page": page, "page_size": size, "results": [serialise(i) for i in chunk]}
        )

    def _result_response(
        self, meta: ResultMeta, ext: str | None, filename_base: str, cache: bool, wrap: bool = True
    ) -> Response:
        headers: dict[str, str] = {}
        if cache:
            headers["Cache-Control"] = "private,max-age=31557600"
        stamp = utcnow().strftime("%Y_%m_%d")
        fmt = (ext or "json").lower()
        if fmt not in ("json", "csv", "tsv", "xlsx"):
            raise HTTPError(500, "Internal Server Error")
        headers["Content-Disposition"] = f"attachment; filename={filename_base}_{stamp}.{fmt}"
        results = self.emu.results
        if fmt == "json":
            if meta.row_count <= _INLINE_ROWS:
                return json_response(self.result_json(meta), headers=headers)
            return StreamingResponse(results.json_chunks(meta), media_type="application/json", headers=headers)
        if fmt == "xlsx":
            from .xlsx import xlsx_bytes

            return Response(xlsx_bytes(meta, results), media_type=_MIME["xlsx"], headers=headers)
        delimiter = "," if fmt == "csv" else "\t"
        if meta.row_count <= _INLINE_ROWS:
            return Response(b"".join(results.text_chunks(meta, delimiter)), media_type=_MIME[fmt], headers=headers)
        return StreamingResponse(results.text_chunks(meta, delimiter), media_type=_MIME[fmt], headers=headers)

    def result_json(self, meta: ResultMeta) -> dict[str, Any]:
        """:return: ``{"query_result": ...}`` built in memory (small results)."""
        data = {"columns": meta.columns, "rows": self.emu.results.rows_as_dicts(meta)}
        return {"query_result": {**meta.head(), "data": data, **meta.tail()}}

    def _cached_answer(self, meta: ResultMeta) -> Response:
        if meta.row_count <= _INLINE_ROWS:
            return json_response(self.result_json(meta))
        return StreamingResponse(self.emu.results.json_chunks(meta), media_type="application/json")

    @staticmethod
    def _filename(query: Query) -> str:
        return re.sub(r"\W+", "_", query.name)

    @staticmethod
    def _max_age(body: dict[str, Any]) -> float:
        value = body.get("max_age", -1)
        if value is None:
            return -1
        try:
            return float(value)
        except (TypeError, ValueError):
            raise HTTPError(500, "Internal Server Error") from None

    def _run(
        self,
        sql_template: str,
        definitions: list[dict[str, Any]] | None,
        values: dict[str, Any],
        data_source_id: int,
        query: Query | None,
        max_age: float,
    ) -> Response:
        try:
            params.validate(definitions, values)
        except params.InvalidParameters as exc:
            raise HTTPError(400, str(exc)) from None
        missing = params.missing_names(sql_template, values)
        if missing:
            raise _job_error(400, params.MISSING_MESSAGE.format(", ".join(missing)))
        sql = params.substitute(sql_template, values, definitions)
        emu = self.emu
        if max_age != 0:
            from .engine import query_hash

            cached = emu.results.latest(query_hash(sql), data_source_id, max_age)
            if cached is not None:
                return self._cached_answer(cached)
        delay = query.delay if query is not None and query.delay is not None else sleep_seconds(sql)
        job = emu.jobs.submit(sql, data_source_id, query.id if query else None, values, delay)
        return json_response({"job": job.to_json()})

    # -- handlers: server ----------------------------------------------------------------------
    async def ping(self, ctx: Ctx) -> Response:
        return Response("PONG.", media_type="text/html; charset=utf-8")

    async def login(self, ctx: Ctx) -> Response:
        client = ctx.request.client.host if ctx.request.client else "?"
        now = self.emu.clock.now()
        attempts = [t for t in self._login_attempts.get(client, []) if now - t < LOGIN_WINDOW]
        if len(attempts) >= LOGIN_LIMIT:
            self._login_attempts[client] = attempts
            return Response(HTML_429_LOGIN, status_code=429, media_type="text/html; charset=utf-8")
        attempts.append(now)
        self._login_attempts[client] = attempts
        return Response(LOGIN_PAGE, media_type="text/html; charset=utf-8")

    def _client_config(self) -> dict[str, Any]:
        from .demo_config import client_config

        return client_config(self.emu.base_url + "/")

    async def config(self, ctx: Ctx) -> Response:
        return json_response({"org_slug": "default", "client_config": self._client_config()})

    async def session(self, ctx: Ctx) -> Response:
        self._require_user(ctx)
        from .demo_config import session_user

        client_config = {
            "newVersionAvailable": False,
            "version": self.emu.version,
            "showBeaconConsentMessage": True,
            **self._client_config(),
        }
        return json_response(
            {"user": session_user(), "messages": [], "org_slug": "default", "client_config": client_config}
        )

    async def org_status(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        counters = {
            "users": 1,
            "alerts": 0,
            "data_sources": len(objs.data_sources),
            "queries": sum(1 for q in objs.queries.values() if not q.is_archived),
            "dashboards": sum(1 for d in objs.dashboards.values() if not d.is_archived),
        }
        return json_response({"object_counters": counters})

    # -- data sources --------------------------------------------------------------------------
    async def data_sources(self, ctx: Ctx) -> Response:
        return json_response([ds.list_json() for ds in self.emu.objects.data_sources.values()])

    async def create_data_source(self, ctx: Ctx) -> Response:
        self._require_user(ctx)
        name, kind = ctx.body.get("name"), ctx.body.get("type")
        if not name or not kind:
            raise HTTPError(400, "Missing field: name or type")
        ds = self.emu.objects.add_data_source(str(name), str(kind), ctx.body.get("options") or {})
        return json_response(ds.full_json())

    def _data_source(self, text: str) -> Any:
        ds = self.emu.objects.data_sources.get(_int_or_500(text))
        if ds is None:
            raise HTTPError(404, NOT_FOUND)
        return ds

    async def get_data_source(self, ctx: Ctx) -> Response:
        # data_source_get.json: an admin sees the options (password masked); a plain user does not.
        ds = self._data_source(ctx.args["ds_id"])
        if not ctx.auth.admin or ctx.auth.is_api_user:
            return json_response(ds.list_json())
        return json_response({**ds.full_json(), "view_only": False})

    async def test_data_source(self, ctx: Ctx) -> Response:
        self._data_source(ctx.args["ds_id"])
        return json_response({"message": "success", "ok": True})

    # -- queries -------------------------------------------------------------------------------
    def _sorted_queries(self, ctx: Ctx, archived: bool) -> list[Query]:
        qp = ctx.request.query_params
        items = [q for q in self.emu.objects.queries.values() if q.is_archived == archived]
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
        keys: dict[str, Callable[[Query], Any]] = {
            "name": lambda q: q.name.lower(),
            "created_at": lambda q: (q.created_at, q.id),
            "updated_at": lambda q: (q.updated_at, q.id),
            "id": lambda q: q.id,
            # query_scheduled_refresh.json: ?order=-retrieved_at (queries never run sort last)
            "retrieved_at": lambda q: (self._retrieved_emul(q), q.id),
        }
        items.sort(key=keys.get(field, keys["created_at"]), reverse=order.startswith("-"))
        return items

    def _retrieved_emul(self, query: Query) -> float:
        meta = self.emu.results.get(query.latest_query_data_id) if query.latest_query_data_id else None
        return meta.retrieved_emul if meta is not None else float("-inf")

    async def list_queries(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        return self._page_response(ctx, self._sorted_queries(ctx, archived=False), lambda q: objs.query_json(q, "list"))

    async def list_archived_queries(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        return self._page_response(ctx, self._sorted_queries(ctx, archived=True), lambda q: objs.query_json(q, "list"))

    async def create_query(self, ctx: Ctx) -> Response:
        body = ctx.body
        objs = self.emu.objects
        ds_id = body.get("data_source_id")
        if not body.get("name") or not isinstance(ds_id, int) or ds_id not in objs.data_sources:
            raise HTTPError(500, "Internal Server Error")
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

    async def fork_query(self, ctx: Ctx) -> Response:
        # query_fork.json: a draft copy named "Copy of (#<id>) <name>" with the source's SQL, data
        # source, description, tags and options, and copies of its visualizations (new ids).
        self._require_user(ctx)
        fork = self.emu.objects.fork_query(self._query(ctx.args["query_id"]))
        return json_response(self.emu.objects.query_json(fork, "saved"))

    async def get_query(self, ctx: Ctx) -> Response:
        out = self.emu.objects.query_json(self._query(ctx.args["query_id"]), "full")
        if ctx.auth.is_api_user:
            del out["is_favorite"]  # a query key is not a user: nothing can be its favourite
        return json_response(out)

    async def edit_query(self, ctx: Ctx) -> Response:
        self._require_user(ctx)
        query = self._query(ctx.args["query_id"])
        body = ctx.body
        with self.emu.objects.lock:
            if "version" in body and body["version"] != query.version:
                raise HTTPError(409, CONFLICT)
            for name in (
                "name",
                "description",
                "query",
                "options",
                "tags",
                "schedule",
                "is_draft",
                "data_source_id",
                "latest_query_data_id",
            ):
                if name in body:
                    setattr(query, name, body[name])
            if query.options is None:
                query.options = {}
            query.updated_at = utcnow()
        return json_response(self.emu.objects.query_json(query, "saved"))

    async def archive_query(self, ctx: Ctx) -> Response:
        self._require_user(ctx)
        query = self._query(ctx.args["query_id"])
        query.is_archived = True
        query.schedule = None  # archiving unschedules the query
        query.updated_at = utcnow()
        return json_response(None)

    async def latest_results(self, ctx: Ctx) -> Response:
        query = self._query(ctx.args["query_id"])
        meta = self.emu.results.get(query.latest_query_data_id) if query.latest_query_data_id else None
        if meta is None:
            raise HTTPError(404, NO_CACHED)
        return self._result_response(meta, ctx.args.get("ext"), self._filename(query), cache=False)

    async def query_result_of_query(self, ctx: Ctx) -> Response:
        ext = ctx.args.get("ext")
        if ext is None:
            return Response(HTML_500, status_code=500, media_type="text/html; charset=utf-8")
        query = self._query(ctx.args["query_id"])
        meta = self.emu.results.get(_int_or_500(ctx.args["result_id"]))
        if meta is None:
            raise HTTPError(404, NOT_FOUND)
        if ctx.auth.is_api_user and meta.query_hash != query.query_hash:
            raise HTTPError(404, NO_CACHED)
        return self._result_response(meta, ext, self._filename(query), cache=True)

    async def execute_query(self, ctx: Ctx) -> Response:
        query = self._query(ctx.args["query_id"])
        if ctx.auth.is_api_user and not params.is_safe(query.parameters):
            raise _job_error(403, UNSAFE)
        values = ctx.body.get("parameters") or {}
        if not isinstance(values, dict):
            values = {}
        max_age = self._max_age(ctx.body)
        response = self._run(query.query, query.parameters, values, query.data_source_id, query, max_age)
        if ctx.auth.is_api_user and response.status_code == 200 and not isinstance(response, StreamingResponse):
            answer = json.loads(bytes(response.body))
            if "query_result" in answer:
                # Redash shows a query key only the public part of an inline result
                answer["query_result"] = {k: answer["query_result"][k] for k in ("data", "retrieved_at")}
                return json_response(answer)
        return response

    async def refresh_query(self, ctx: Ctx) -> Response:
        self._require_user(ctx)
        query = self._query(ctx.args["query_id"])
        values = {k[2:]: v for k, v in ctx.request.query_params.items() if k.startswith("p_")}
        # The legacy endpoint builds the query without its definitions: nothing is validated.
        return self._run(query.query, None, values, query.data_source_id, query, max_age=0)

    async def adhoc_query(self, ctx: Ctx) -> Response:
        body = ctx.body
        if body.get("data_source_id") in (None, ""):
            raise _job_error(401, SELECT_DS)
        ds = self._data_source(str(body["data_source_id"]))
        values = body.get("parameters") or {}
        if not isinstance(values, dict):
            values = {}
        return self._run(str(body.get("query") or ""), None, values, ds.id, None, self._max_age(body))

    # -- jobs ----------------------------------------------------------------------------------
    async def get_job(self, ctx: Ctx) -> Response:
        job = self.emu.jobs.get(ctx.args["job_id"])
        if job is None:
            raise HTTPError(500, "Internal Server Error")
        return json_response({"job": job.to_json()})

    async def cancel_job(self, ctx: Ctx) -> Response:
        # job_cancel_running_slow_query.json, job_cancel_queued.json, job_cancel_routes_user_key.json
        if not self.emu.jobs.cancel(ctx.args["job_id"]):
            raise HTTPError(500, "Internal Server Error")
        return json_response(None)

    async def cancel_job_wrong_route(self, ctx: Ctx) -> Response:
        # job_cancel_routes_user_key.json, job_cancel_query_api_key.json: this route serves GET only;
        # its DELETE reaches a handler that takes no query id, answers 500, and the job runs on.
        raise HTTPError(500, "Internal Server Error")

    # -- query results -------------------------------------------------------------------------
    async def query_result_by_id(self, ctx: Ctx) -> Response:
        rid = _int_or_500(ctx.args["result_id"])
        meta = self.emu.results.get(rid)
        if meta is None:
            raise HTTPError(404, NOT_FOUND)
        return self._result_response(meta, ctx.args.get("ext"), str(rid), cache=True)

    # -- dashboards ----------------------------------------------------------------------------
    def _dashboard_list(self, ctx: Ctx) -> list[Any]:
        items = [d for d in self.emu.objects.dashboards.values() if not d.is_archived]
        term = (ctx.request.query_params.get("q") or "").lower()
        if term:
            items = [d for d in items if term in d.name.lower()]
        tags = ctx.request.query_params.getlist("tags")
        if tags:
            items = [d for d in items if set(tags) <= set(d.tags)]
        items.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return items

    async def list_dashboards(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        return self._page_response(ctx, self._dashboard_list(ctx), lambda d: objs.dashboard_json(d))

    async def favorite_dashboards(self, ctx: Ctx) -> Response:
        return self._page_response(ctx, [], lambda d: d)

    def _dashboard_or_500(self, text: str) -> Any:
        dashboard = self.emu.objects.dashboards.get(_int_or_500(text))
        if dashboard is None:
            raise HTTPError(500, "Internal Server Error")
        return dashboard

    async def get_dashboard(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        ident = ctx.args["dashboard_id"]
        if "legacy" in ctx.request.query_params:
            dashboard = next((d for d in objs.dashboards.values() if d.slug == ident), None)
        else:
            dashboard = objs.dashboards.get(_int_or_500(ident))
        if dashboard is None:
            raise HTTPError(404, NOT_FOUND)
        return json_response(objs.dashboard_json(dashboard, with_widgets=True, can_edit=True))

    async def create_dashboard(self, ctx: Ctx) -> Response:
        self._require_user(ctx)
        name = ctx.body.get("name")
        if not name:
            raise HTTPError(500, "Internal Server Error")
        dashboard = self.emu.objects.add_dashboard(str(name))
        return json_response(self.emu.objects.dashboard_json(dashboard))

    async def edit_dashboard(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        dashboard = self._dashboard_or_500(ctx.args["dashboard_id"])
        body = ctx.body
        with objs.lock:
            if "version" in body and body["version"] != dashboard.version:
                raise HTTPError(409, CONFLICT)
            if "name" in body and body["name"] != dashboard.name:
                dashboard.name = str(body["name"])
                dashboard.slug = objs.unique_slug(dashboard.name, exclude=dashboard.id)
            for name in ("layout", "options", "dashboard_filters_enabled", "is_draft", "tags"):
                if name in body:
                    setattr(dashboard, name, body[name])
            dashboard.version += 1
            dashboard.updated_at = utcnow()
        return json_response(objs.dashboard_json(dashboard, with_widgets=True))

    async def archive_dashboard(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        dashboard = self._dashboard_or_500(ctx.args["dashboard_id"])
        with objs.lock:
            dashboard.is_archived = True
            dashboard.version += 1
            dashboard.updated_at = utcnow()
        return json_response(objs.dashboard_json(dashboard, with_widgets=True))

    # -- widgets and visualizations ------------------------------------------------------------
    async def create_widget(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        body = ctx.body
        dashboard = objs.dashboards.get(body.get("dashboard_id"))  # type: ignore[arg-type]
        viz_id = body.get("visualization_id")
        if dashboard is None or (viz_id is not None and viz_id not in objs.visualizations):
            raise HTTPError(404, NOT_FOUND)
        widget = objs.add_widget(
            dashboard.id,
            viz_id,
            text=str(body.get("text") or ""),
            width=int(body.get("width") or 1),
            options=body.get("options") or {},
        )
        return json_response(objs.widget_json(widget))

    def _widget(self, text: str) -> Any:
        widget = self.emu.objects.widgets.get(_int_or_500(text))
        if widget is None:
            raise HTTPError(404, NOT_FOUND)
        return widget

    async def edit_widget(self, ctx: Ctx) -> Response:
        widget = self._widget(ctx.args["widget_id"])
        for name in ("text", "options", "width"):
            if name in ctx.body:
                setattr(widget, name, ctx.body[name])
        widget.updated_at = utcnow()
        return json_response(self.emu.objects.widget_json(widget))

    async def delete_widget(self, ctx: Ctx) -> Response:
        widget = self._widget(ctx.args["widget_id"])
        self.emu.objects.widgets.pop(widget.id, None)
        return json_response(None)

    async def create_visualization(self, ctx: Ctx) -> Response:
        objs = self.emu.objects
        body = ctx.body
        if body.get("query_id") not in objs.queries:
            raise HTTPError(404, NOT_FOUND)
        viz = objs.add_visualization(
            int(body["query_id"]),
            type=str(body.get("type") or "TABLE"),
            name=str(body.get("name") or "Table"),
            description=str(body.get("description") or ""),
            options=body.get("options") or {},
        )
        return json_response(viz.to_json())

    async def edit_visualization(self, ctx: Ctx) -> Response:
        viz = self.emu.objects.visualizations.get(_int_or_500(ctx.args["viz_id"]))
        if viz is None:
            raise HTTPError(404, NOT_FOUND)
        for name in ("type", "name", "description", "options"):
            if name in ctx.body:
                setattr(viz, name, ctx.body[name])
        viz.updated_at = utcnow()
        return json_response(viz.to_json())

    async def delete_visualization(self, ctx: Ctx) -> Response:
        viz_id = _int_or_500(ctx.args["viz_id"])
        if self.emu.objects.visualizations.pop(viz_id, None) is None:
            raise HTTPError(404, NOT_FOUND)
        return json_response(None)
