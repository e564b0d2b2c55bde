"""Deprecated: the old home of the Redash emulator's HTTP side, kept so old imports still work.

Import from :mod:`.redash_app` (``RedashApp``) and :mod:`.redash_http` (the request context, errors) instead.
"""

from __future__ import annotations

from .redash_app import HTML_429, RedashApp
from .redash_http import (
    CONFLICT,
    HTML_500,
    NO_CACHED,
    NOT_FOUND,
    NOT_LOGGED_IN,
    SELECT_DS,
    UNSAFE,
    Auth,
    Ctx,
    Handler,
    HTTPError,
    Route,
    json_response,
)
from .redash_server_info import HTML_429_LOGIN, LOGIN_LIMIT, LOGIN_PAGE, LOGIN_WINDOW

__all__ = [
    "CONFLICT",
    "HTML_429",
    "HTML_429_LOGIN",
    "HTML_500",
    "LOGIN_LIMIT",
    "LOGIN_PAGE",
    "LOGIN_WINDOW",
    "NOT_FOUND",
    "NOT_LOGGED_IN",
    "NO_CACHED",
    "SELECT_DS",
    "UNSAFE",
    "Auth",
    "Ctx",
    "HTTPError",
    "Handler",
    "RedashApp",
    "Route",
    "json_response",
]
