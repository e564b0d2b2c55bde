"""PostHog Endpoints routes: every (method, path template) the hook and the async client may send.

Each route is a :class:`Route` registered in :data:`ROUTES` when this module is imported; a
:class:`Request` can only be made from a route, so the list of what the client can send is
:data:`ROUTES` itself (REFERENCE.md §2). Paths are relative to the host; every route lives under
``api/projects/{project_id}/`` (the ``environments`` prefix is deprecated).

Retries follow REFERENCE.md §8: connection errors, 429, 502/503/504 (503 ``query_capacity``
included); never a 500 (a run cancelled through ``DELETE /query/{id}`` answers 500: sending it
again would run the query again) and never a 4xx.

Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

#: Every route the client can send, in definition order (filled by :func:`_route`).
ROUTES: list[Route] = []
PREFIX = "api/projects/{project_id}/"


@dataclass(frozen=True, slots=True)
class Route:
    """One kind of request: a method, a path template, and what the retry policy must know.

    :param method: HTTP method.
    :param template: the path below ``api/projects/{project_id}/``, ``{name}`` for each argument.
    :param idempotent: safe to send again when the answer was lost (creating an endpoint is not).
    :param run: executes an endpoint (held open by the server for the whole run).
    :param g1_only: exists on first-generation servers only.
    """

    method: str
    template: str
    idempotent: bool = True
    run: bool = False
    g1_only: bool = False

    #: A 500 is never retried (see the module docstring).
    retry_500 = False

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


def _route(method: str, template: str, **flags: Any) -> Route:
    route = Route(method, template, **flags)
    ROUTES.append(route)
    return route


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, transport-neutral, made by :meth:`Route.request`.

    :param route: the route it follows.
    :param path: path relative to the host (no leading slash).
    :param what: what the request is about, for error texts ("endpoint 'daily_signups'").
    :param params: query-string parameters.
    :param json: JSON body (``None`` for none).
    """

    route: Route
    path: str
    what: str
    params: Mapping[str, Any] | None = None
    json: Any = None

    @property
    def method(self) -> str:
        """The HTTP method of the route."""
        return self.route.method

    @property
    def idempotent(self) -> bool:
        """Safe to send again when the answer was lost."""
        return self.route.idempotent

    @property
    def retry_500(self) -> bool:
        """Never: see the module docstring."""
        return False

    def url(self, base_url: str) -> str:
        """The full URL with its query string (the key is never part of it)."""
        url = f"{base_url}/{self.path}"
        if self.params:
            url += "?" + urlencode(self.params, doseq=True)
        return url


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
