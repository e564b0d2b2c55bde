"""The ASGI app of the emulated PostHog: route table, faults, counters, auth, throttles, dispatch.

Order of one request, as DRF does it: route (404 ``api_not_found``), authentication (401), method
(405), permissions (403), throttles (429), body parsing (400), handler. Injected faults are decided
before any of it, like the Redash emulator's.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_dash.testing import faults as fault_actions
from airflow_provider_dash.testing.answering import answer_and_count

from . import errors, handlers, queries, runs
from .auth import authenticate, authorize, bearer_token
from .errors import ApiError, DropConnection, Reply
from .routing import Ctx, Match, Method, Route, resolve, route
from .state import State
from .store import ENDPOINT_READ, ENDPOINT_WRITE, QUERY_READ

_NAME = r"(?P<name>[^/.]+)"
_GATEWAY = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def build_routes(g1: bool) -> list[Route]:
    """:return: the routes of one generation, in DRF's order (list actions before ``{name}``)."""
    read, write = ENDPOINT_READ, ENDPOINT_WRITE
    table = [
        route(
            "endpoints",
            "endpoints",
            {"GET": Method(handlers.list_endpoints, read), "POST": Method(handlers.create_endpoint, write)},
        ),
        route(
            "endpoints/last_execution_times",
            "endpoints/last_execution_times",
            # G1: the action had no scope, so personal keys got 403 (§0)
            {"POST": Method(handlers.last_execution_times, read, personal_key_ok=not g1)},
        ),
    ]
    if not g1:
        table.append(
            route(
                "endpoints/bulk_update_tags",
                "endpoints/bulk_update_tags",
                {"POST": Method(handlers.bulk_update_tags, write)},
            )
        )
    table += [
        route(
            "endpoints/" + _NAME,
            "endpoints/{name}",
            {
                "GET": Method(handlers.retrieve_endpoint, read),
                "PUT": Method(handlers.update_endpoint, write),
                "PATCH": Method(handlers.update_endpoint, write),
                "DELETE": Method(handlers.delete_endpoint, write),
            },
        ),
        route(
            "endpoints/" + _NAME + "/run",
            "endpoints/{name}/run",
            {
                "GET": Method(runs.run, read, secret_key_ok=True),
                "POST": Method(runs.run, read, secret_key_ok=True),
            },
        ),
        route(
            "endpoints/" + _NAME + "/versions",
            "endpoints/{name}/versions",
            {"GET": Method(handlers.list_versions, read)},
        ),
    ]
    if g1:
        table.append(
            route(
                "endpoints/" + _NAME + r"/versions/(?P<number>\d+)",
                "endpoints/{name}/versions/{version}",
                {"GET": Method(handlers.get_version_g1, read)},
            )
        )
    table.append(
        route(
            r"query/(?P<query_id>[^/]+)",
            "query/{id}",
            {"GET": Method(queries.query_status, QUERY_READ), "DELETE": Method(queries.cancel_query, QUERY_READ)},
        )
    )
    return table


def _response(reply: Reply) -> Response:
    if reply.body is None:
        return Response(b"", status_code=reply.status, headers=reply.headers)
    if reply.media_type != "application/json":
        return Response(str(reply.body), status_code=reply.status, media_type=reply.media_type, headers=reply.headers)
    body = json.dumps(reply.body, separators=(",", ":"))
    return Response(body, status_code=reply.status, media_type=reply.media_type, headers=reply.headers)


class PostHogApp:
    """The ASGI application serving one :class:`~.state.State`."""

    def __init__(self, state: State, drop: Any) -> None:
        """:param drop: ``async drop(scope)``: close the client's connection without an answer."""
        self.state = state
        self.routes = build_routes(state.g1)
        self._drop = drop

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"].upper()
        match = resolve(self.routes, scope["path"])

        async def answer(decision: fault_actions.FaultDecision) -> Response | None:
            reply = self._injected(decision, match)
            if decision.action != fault_actions.DROP and reply is None:
                try:
                    reply = await self._handle(scope, receive, match, method)
                except DropConnection:
                    reply = None
            return None if reply is None else self._maybe_malformed(_response(reply))

        await answer_and_count(
            scope,
            receive,
            send,
            template=match.template if match else "<unmatched>",
            counters=self.state.counters,
            faults=self.state.faults,
            answer=answer,
            drop=self._drop,
        )

    def _injected(self, decision: fault_actions.FaultDecision, match: Match | None) -> Reply | None:
        if decision.action == fault_actions.RATE_LIMIT:
            return errors.throttled(self.state.faults.config.retry_after, self.state.limits.retry_after_header).reply()
        if decision.action != fault_actions.ERROR:
            return None
        if decision.status == 500:
            return errors.server_error().reply()
        if decision.status == 503 and match is not None and match.route.template.endswith("/run"):
            return errors.capacity().reply()
        reason = _GATEWAY.get(decision.status, "Error")
        html = f"<html><head><title>{decision.status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
        return Reply(decision.status, html, media_type="text/html")

    def _maybe_malformed(self, response: Response) -> Response:
        if response.status_code != 200 or response.media_type != "application/json":
            return response
        if not self.state.faults.take_malformed():
            return response
        raw = bytes(response.body)
        return Response(raw[: max(1, len(raw) // 2)], status_code=200, media_type="application/json")

    async def _handle(self, scope: dict[str, Any], receive: Any, match: Match | None, method: str) -> Reply:
        # REFERENCE.md §1 (prefixes, trailing slash, auth); unknown routes as PostHog's api_not_found
        if match is None:
            return errors.route_not_found().reply()
        request = Request(scope, receive)
        params = dict(request.query_params.items())
        raw = await request.body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        body: Any = None
        body_error: ApiError | None = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                body_error = errors.parse_error(f"JSON parse error - {exc}")
        handler = match.route.methods.get(method)
        try:
            token = bearer_token(request.headers, params, body)
            key = authenticate(self.state, token, handler)
            if handler is None:
                raise errors.method_not_allowed(method)
            authorize(self.state, key, match, handler)
            self.state.throttles.check(key, match.project_id, self._materialized_hint(match, params, body))
            if body_error is not None:
                raise body_error
            site = f"{request.url.scheme}://{request.url.netloc}"
            ctx = Ctx(self.state, method, match.project_id, match.args, params, body, key, site, str(request.url))
            return await handler.handler(ctx)
        except ApiError as exc:
            return exc.reply()
        except DropConnection:
            raise
        except Exception:
            self.state.log_exception()
            return errors.server_error().reply()

    def _materialized_hint(self, match: Match, params: dict[str, str], body: Any) -> bool:
        """:return: True when a G3 run targets a materialized version (its higher rate limits apply)."""
        if self.state.g1 or not match.route.template.endswith("/run"):
            return False
        ep = self.state.store.live(match.project_id, match.args["name"])
        if ep is None:
            return False
        number: Any = body.get("version") if isinstance(body, dict) else None
        if number is None and (params.get("version") or "").isdigit():
            number = int(params["version"])
        version = ep.version(number) if isinstance(number, int) else ep.current
        refresh = body.get("refresh") if isinstance(body, dict) else None
        return version is not None and version.is_materialized and refresh != "direct"
