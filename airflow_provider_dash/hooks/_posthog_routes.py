"""PostHog Endpoints routes: every (method, path template) the hook and the async client may send.

Each route is a :class:`Route` registered in :data:`ROUTES` when this module is imported; a
:class:`Request` can only be made from a route, so the list of what the client can send is
:data:`ROUTES` itself (REFERENCE.md §2; all three build on the product-neutral
:mod:`airflow_provider_dash.http_routes`). Paths are relative to the host; every route lives under
``api/projects/{project_id}/`` (the ``environments`` prefix is deprecated).

Retries follow REFERENCE.md §8: connection errors, 429, 502/503/504 (503 ``query_capacity``
included); never a 500 (a run cancelled through ``DELETE /query/{id}`` answers 500: sending it
again would run the query again) and never a 4xx.

Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_provider_dash import http_routes

PREFIX = "api/projects/{project_id}/"


@dataclass(frozen=True, slots=True)
class Route(http_routes.Route):
    """One kind of request: a method, a path template, and what the retry policy must know.

    :param method: HTTP method.
    :param template: the path below ``api/projects/{project_id}/``, ``{name}`` for each argument.
    :param idempotent: safe to send again when the answer was lost (creating an endpoint is not).
    :param run: executes an endpoint (held open by the server for the whole run).
    :param g1_only: exists on first-generation servers only.
    """

    #: A 500 is never retried (see the module docstring).
    retry_500: bool = field(default=False, init=False, repr=False)
    run: bool = False
    g1_only: bool = False

    def request(
        self,
        what: str,
        project_id: int,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        **path_args: Any,
    ) -> Request:
        """A request on this route; path arguments are URL-quoted (no ``/`` survives)."""
        quoted = {name: quote(str(value), safe="") for name, value in path_args.items()}
        path = PREFIX.format(project_id=int(project_id)) + self.template.format(**quoted)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return Request(self, path, what, clean or None, json)


@dataclass(frozen=True, slots=True)
class Request(http_routes.Request[Route]):
    """One PostHog request, transport-neutral, made by :meth:`Route.request`; its fields are
    :class:`airflow_provider_dash.http_routes.Request`'s (the path is relative to the host)."""


#: Every route the client can send, in definition order.
ROUTES = http_routes.RouteList(Route)
_route = ROUTES.add


# --------------------------------------------------------------------------- the routes (REFERENCE.md §2)

LIST_ENDPOINTS = _route("GET", "endpoints/")  # §2.1
CREATE_ENDPOINT = _route("POST", "endpoints/", idempotent=False)  # §2.2
GET_ENDPOINT = _route("GET", "endpoints/{name}/")  # §2.3 (?version=N on G3)
UPDATE_ENDPOINT = _route("PATCH", "endpoints/{name}/")  # §2.4 (a query change makes a new version)
DELETE_ENDPOINT = _route("DELETE", "endpoints/{name}/")  # §2.5
RUN_ENDPOINT = _route("POST", "endpoints/{name}/run/", run=True)  # §2.6 (read-only: safe to send again)
LIST_VERSIONS = _route("GET", "endpoints/{name}/versions/")  # §2.7
GET_VERSION_G1 = _route("GET", "endpoints/{name}/versions/{version}/", g1_only=True)  # §2.8
LAST_EXECUTION_TIMES = _route("POST", "endpoints/last_execution_times/")  # §2.9 (a read)
QUERY_STATUS = _route("GET", "query/{query_id}/")  # §2.11
CANCEL_QUERY = _route("DELETE", "query/{query_id}/")  # §2.11 (answers 200 even for unknown ids)


def endpoint_what(name: str, version: int | None = None) -> str:
    """How error texts name an endpoint: ``endpoint 'daily_signups'`` (``version 3 of ...``)."""
    return f"version {version} of endpoint {name!r}" if version is not None else f"endpoint {name!r}"
