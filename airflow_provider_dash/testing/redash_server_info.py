"""The Redash emulator's handlers about the server itself: ping, login, config, session, organization
status and data sources."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .redash_http import Ctx, HTTPError, json_response, lookup, require_user

HTML_429_LOGIN = "<!doctype html>\n<html lang=en>\n<title>429 Too Many Requests</title>\n<h1>Too Many Requests</h1>\n<p>50 per 1 hour</p>\n"  # noqa: E501 - literal text
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html class="no-js">\n<head>\n  <title>Login to Redash</title>\n</head>\n<body>\n'
    '<form method="post"><input name="email"><input name="password" type="password"></form>\n'
    '<div class="alert alert-danger">Wrong email or password.</div>\n</body>\n</html>\n'
)
LOGIN_LIMIT = 50
LOGIN_WINDOW = 3600.0


async def ping(ctx: Ctx) -> Response:
    """:return: ``PONG.``"""
    return Response("PONG.", media_type="text/html; charset=utf-8")


async def login(ctx: Ctx) -> Response:
    """:return: the login page (wrong email or password), or 429 after 50 attempts in an hour."""
    client = ctx.request.client.host if ctx.request.client else "?"
    now = ctx.state.clock.now()
    attempts_by_client = ctx.state.login_attempts
    attempts = [t for t in attempts_by_client.get(client, []) if now - t < LOGIN_WINDOW]
    if len(attempts) >= LOGIN_LIMIT:
        attempts_by_client[client] = attempts
        return Response(HTML_429_LOGIN, status_code=429, media_type="text/html; charset=utf-8")
    attempts.append(now)
    attempts_by_client[client] = attempts
    return Response(LOGIN_PAGE, media_type="text/html; charset=utf-8")


def _client_config(ctx: Ctx) -> dict[str, Any]:
    from .demo_config import client_config

    return client_config(ctx.state.url + "/")


async def config(ctx: Ctx) -> Response:
    """:return: ``/api/config``: the organization slug and the client configuration."""
    return json_response({"org_slug": "default", "client_config": _client_config(ctx)})


async def session(ctx: Ctx) -> Response:
    """:return: ``/api/session``: the user, and the client configuration with the version."""
    require_user(ctx)
    from .demo_config import session_user

    client_config = {
        "newVersionAvailable": False,
        "version": ctx.state.version,
        "showBeaconConsentMessage": True,
        **_client_config(ctx),
    }
    return json_response(
        {"user": session_user(), "messages": [], "org_slug": "default", "client_config": client_config}
    )


async def org_status(ctx: Ctx) -> Response:
    """:return: the object counters of the organization."""
    objs = ctx.state.objects
    counters = {
        "users": 1,
        "alerts": 0,
        "data_sources": len(objs.data_sources),
        "queries": sum(1 for q in objs.queries.values() if not q.is_archived),
        "dashboards": sum(1 for d in objs.dashboards.values() if not d.is_archived),
    }
    return json_response({"object_counters": counters})


async def data_sources(ctx: Ctx) -> Response:
    """:return: every data source (list items)."""
    return json_response([ds.list_json() for ds in ctx.state.objects.data_sources.values()])


async def create_data_source(ctx: Ctx) -> Response:
    """:return: the new data source (options with the password masked)."""
    require_user(ctx)
    name, kind = ctx.body.get("name"), ctx.body.get("type")
    if not name or not kind:
        raise HTTPError(400, "Missing field: name or type")
    ds = ctx.state.objects.add_data_source(str(name), str(kind), ctx.body.get("options") or {})
    return json_response(ds.full_json())


async def get_data_source(ctx: Ctx) -> Response:
    """:return: the data source; its options only for an admin."""
    # data_source_get.json: an admin sees the options (password masked); a plain user does not.
    ds = lookup(ctx.state.objects.data_sources, ctx.args["ds_id"])
    if not ctx.auth.admin or ctx.auth.is_api_user:
        return json_response(ds.list_json())
    return json_response({**ds.full_json(), "view_only": False})


async def test_data_source(ctx: Ctx) -> Response:
    """:return: success for a known data source."""
    lookup(ctx.state.objects.data_sources, ctx.args["ds_id"])
    return json_response({"message": "success", "ok": True})
