"""The Redash emulator's ASGI app: the routing table, auth, dispatch to the handlers, and the faults.

Every quirk listed in the recorded server's README is reproduced: auth failures are 404, unknown
jobs are 500, two shapes of errors, pagination limits, dashboard slugs, downloads... Each route
names, in one comment line, the recording of ``redash-api/recordings`` it follows.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import faults as fault_actions
from . import redash_dashboards as dashboards
from . import redash_jobs as jobs
from . import redash_queries as queries
from . import redash_results as results
from . import redash_server_info as info
from .answering import answer_and_count
from .redash_http import INTERNAL, NOT_FOUND, NOT_LOGGED_IN, Auth, Ctx, Handler, HTTPError, Route, json_response

if TYPE_CHECKING:
    from .redash_state import RedashState

HTML_429 = "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n<h1>Too Many Requests</h1>\n<p>Rate limit exceeded</p>\n"  # noqa: E501 - literal text
_SEG = r"(?P<{}>[^/]+)"
_SEG_NOEXT = r"(?P<{}>[^/.]+)"
_EXT = r"(?:\.(?P<ext>[^/]+))?"


class RedashApp:
    """The ASGI application of one Redash emulator, acting on its :class:`~.redash_state.RedashState`."""

    def __init__(self, state: RedashState) -> None:
        self.state = state
        self.routes: list[Route] = []
        self._build_routes()

    # -- routing table -----------------------------------------------------------------------
    def _add(self, regex: str, template: str, handlers: dict[str, Handler], auth: bool = True) -> None:
        self.routes.append(Route(re.compile("^" + regex + "$"), template, handlers, auth))

    def _build_routes(self) -> None:
        a = self._add
        query, ds, job = _SEG.format("query_id"), _SEG.format("ds_id"), _SEG.format("job_id")
        # server_version_and_config.json
        a("/ping", "/ping", {"GET": info.ping}, auth=False)
        # rate_limits.json
        a("/login", "/login", {"POST": info.login}, auth=False)
        # server_version_and_config.json
        a("/api/config", "/api/config", {"GET": info.config}, auth=False)
        # server_version_and_config.json, auth_failures_user_key.json
        a("/api/session", "/api/session", {"GET": info.session})
        # server_version_and_config.json
        a("/api/organization/status", "/api/organization/status", {"GET": info.org_status})
        # data_source_create_and_list.json
        a("/api/data_sources", "/api/data_sources", {"GET": info.data_sources, "POST": info.create_data_source})
        # data_source_get.json
        a("/api/data_sources/" + ds, "/api/data_sources/{data_source_id}", {"GET": info.get_data_source})
        # data_source_create_and_list.json
        a(f"/api/data_sources/{ds}/test", "/api/data_sources/{data_source_id}/test", {"POST": info.test_data_source})
        # get_queries_pagination.json, query_create_edit_archive.json
        a("/api/queries", "/api/queries", {"GET": queries.list_queries, "POST": queries.create_query})
        # query_create_edit_archive.json
        a("/api/queries/archive", "/api/queries/archive", {"GET": queries.list_archived_queries})
        # get_query_by_id.json, query_create_edit_archive.json
        a(
            "/api/queries/" + query,
            "/api/queries/{query_id}",
            {"GET": queries.get_query, "POST": queries.edit_query, "DELETE": queries.archive_query},
        )
        # get_query_results_cached.json, post_query_results_cached.json
        a(
            "/api/queries/" + _SEG_NOEXT.format("query_id") + "/results",
            "/api/queries/{query_id}/results",
            {"GET": results.latest_results, "POST": results.execute_query},
        )
        # query_result_downloads.json
        a(
            "/api/queries/" + _SEG_NOEXT.format("query_id") + r"/results\.(?P<ext>[^/]+)",
            "/api/queries/{query_id}/results.{filetype}",
            {"GET": results.latest_results},
        )
        # query_result_downloads.json
        a(
            f"/api/queries/{query}/results/" + _SEG_NOEXT.format("result_id") + _EXT,
            "/api/queries/{query_id}/results/{query_result_id}.{filetype}",
            {"GET": results.query_result_of_query},
        )
        # query_fork.json
        a(f"/api/queries/{query}/fork", "/api/queries/{query_id}/fork", {"POST": queries.fork_query})
        # post_query_refresh_legacy.json
        a(f"/api/queries/{query}/refresh", "/api/queries/{query_id}/refresh", {"POST": queries.refresh_query})
        # job_cancel_routes_user_key.json
        a(
            f"/api/queries/{query}/jobs/{job}",
            "/api/queries/{query_id}/jobs/{job_id}",
            {"GET": jobs.get_job, "DELETE": jobs.cancel_job_wrong_route},
        )
        # job_states_slow_query.json, job_cancel_running_slow_query.json
        a("/api/jobs/" + job, "/api/jobs/{job_id}", {"GET": jobs.get_job, "DELETE": jobs.cancel_job})
        # post_query_results_adhoc.json
        a("/api/query_results", "/api/query_results", {"POST": results.adhoc_query})
        # query_result_downloads.json
        a(
            "/api/query_results/" + _SEG_NOEXT.format("result_id") + _EXT,
            "/api/query_results/{query_result_id}",
            {"GET": results.query_result_by_id},
        )
        # get_dashboards_pagination.json, dashboard_setup_widgets.json
        a(
            "/api/dashboards",
            "/api/dashboards",
            {"GET": dashboards.list_dashboards, "POST": dashboards.create_dashboard},
        )
        # get_dashboards_pagination.json
        a("/api/dashboards/my", "/api/dashboards/my", {"GET": dashboards.list_dashboards})
        # get_dashboards_pagination.json
        a("/api/dashboards/favorites", "/api/dashboards/favorites", {"GET": dashboards.favorite_dashboards})
        # get_dashboard_full_with_widgets.json, dashboard_edit.json, dashboard_archive.json
        a(
            "/api/dashboards/" + _SEG.format("dashboard_id"),
            "/api/dashboards/{dashboard_id}",
            {
                "GET": dashboards.get_dashboard,
                "POST": dashboards.edit_dashboard,
                "DELETE": dashboards.archive_dashboard,
            },
        )
        # dashboard_setup_widgets.json
        a("/api/widgets", "/api/widgets", {"POST": dashboards.create_widget})
        # visualization_and_widget_edit.json
        a(
            "/api/widgets/" + _SEG.format("widget_id"),
            "/api/widgets/{widget_id}",
            {"POST": dashboards.edit_widget, "DELETE": dashboards.delete_widget},
        )
        # dashboard_setup_widgets.json
        a("/api/visualizations", "/api/visualizations", {"POST": dashboards.create_visualization})
        # visualization_and_widget_edit.json
        a(
            "/api/visualizations/" + _SEG.format("viz_id"),
            "/api/visualizations/{visualization_id}",
            {"POST": dashboards.edit_visualization, "DELETE": dashboards.delete_visualization},
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
        state = self.state
        method = scope["method"].upper()
        path = scope["path"]
        base = state.base_path
        route: Route | None = None
        args: dict[str, str] = {}
        if not base or path == base or path.startswith(base + "/"):
            route, args = self.match(path[len(base) :] or "/")

        async def answer(decision: fault_actions.FaultDecision) -> Response | None:
            if decision.action == fault_actions.DROP:
                return None
            response = self._injected(decision)
            if response is None:
                response = await self._dispatch(scope, receive, route, args, method)
            return response

        await answer_and_count(
            scope,
            receive,
            send,
            template=route.template if route else "<unmatched>",
            counters=state.counters,
            faults=state.faults,
            answer=answer,
            drop=self._drop,
        )

    # -- faults --------------------------------------------------------------------------------
    async def _drop(self, scope: dict[str, Any]) -> None:
        client = scope.get("client")
        transport = self.state.transports.get(tuple(client)) if client else None
        if transport is not None:
            transport.close()
        # let connection_lost run, so the server does not try to answer on a closed socket
        for _ in range(3):
            await asyncio.sleep(0)

    def _injected(self, decision: fault_actions.FaultDecision) -> Response | None:
        if decision.action == fault_actions.RATE_LIMIT:
            retry = str(self.state.faults.config.retry_after)
            return Response(
                HTML_429, status_code=429, media_type="text/html; charset=utf-8", headers={"Retry-After": retry}
            )
        if decision.action == fault_actions.ERROR:
            if decision.status == 500:
                return json_response({"message": INTERNAL}, 500)
            reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
                decision.status, "Error"
            )
            html = f"<html>\r\n<head><title>{decision.status} {reason}</title></head>\r\n<body>\r\n<center><h1>{decision.status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"  # noqa: E501 - literal text
            return Response(html, status_code=decision.status, media_type="text/html")
        return None

    def _maybe_malformed(self, response: Response) -> Response:
        if response.status_code != 200 or isinstance(response, StreamingResponse):
            return response
        if not (response.media_type or "").startswith("application/json"):
            return response
        if not self.state.faults.take_malformed():
            return response
        raw = bytes(response.body)
        broken = raw[: max(1, len(raw) // 2)] if len(raw) > 4 else b"{"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return Response(broken, status_code=200, media_type="application/json", headers=headers)

    # -- auth and dispatch ---------------------------------------------------------------------
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
            response = await handler(Ctx(request, args, auth, body, self.state))
        except HTTPError as exc:
            return json_response(exc.body, exc.status)
        except Exception:
            self.state.log_exception()
            return json_response({"message": INTERNAL}, 500)
        return self._maybe_malformed(response)

    def _authenticate(self, request: Request, query_id: str | None) -> Auth | None:
        # Redash: ?api_key= first, else the Authorization header with "Key " removed once.
        key = request.query_params.get("api_key")
        if key is None:
            header = request.headers.get("authorization")
            if header:
                key = header.replace("Key ", "", 1)
        if not key:
            return None
        if key == self.state.user_key:
            return Auth()
        if key == self.state.plain_user_key:
            return Auth(admin=False)
        if query_id is not None and query_id.isdigit():
            query = self.state.objects.queries.get(int(query_id))
            if query is not None and query.api_key == key:
                return Auth(query=query)
        return None
