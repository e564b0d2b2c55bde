"""Route matching: both project prefixes, optional trailing slash, DRF's order of routes.

REFERENCE.md §1 (prefixes, trailing slash), §2 (routes). A path that matches no route answers
like PostHog's ``api_not_found`` view (404 "Endpoint not found.", no auth needed).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import Reply
from .state import State
from .store import ApiKey

_PREFIX = re.compile(r"^/api/(?P<prefix>projects|environments)/(?P<project_id>\d+)/(?P<rest>.+?)/?$")


@dataclass
class Ctx:
    """One authenticated request on its way to a handler."""

    state: State
    method: str
    project_id: int
    args: dict[str, str]
    params: Mapping[str, str]
    body: Any
    key: ApiKey
    site: str
    url: str

    def body_dict(self) -> dict[str, Any]:
        """:return: the JSON body when it is an object, ``{}`` when there is none.

        :raises ApiError: 400 parse error for a body that is not an object.
        """
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise errors.parse_error("JSON parse error - the body must be a JSON object.")
        return self.body


Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass(frozen=True)
class Method:
    """One method of a route: its handler, the scope it needs, whether a project secret key may call it."""

    handler: Handler
    scope: str
    secret_key_ok: bool = False
    personal_key_ok: bool = True


@dataclass(frozen=True)
class Route:
    """A route below ``/api/{projects|environments}/{project_id}/``."""

    pattern: re.Pattern[str]
    template: str
    methods: dict[str, Method] = field(default_factory=dict)


def route(regex: str, template: str, methods: dict[str, Method]) -> Route:
    """:return: a route for ``regex`` (matched against the rest of the path, no trailing slash)."""
    return Route(re.compile("^" + regex + "$"), template, methods)


@dataclass(frozen=True)
class Match:
    """A matched route with its path arguments."""

    route: Route
    prefix: str
    project_id: int
    args: dict[str, str]

    @property
    def template(self) -> str:
        """:return: the route template requests are counted under (the prefix kept as sent)."""
        return f"/api/{self.prefix}/{{project_id}}/{self.route.template}"


def resolve(routes: list[Route], path: str) -> Match | None:
    """:return: the first route matching ``path`` (DRF order: list actions before ``{name}``), or None."""
    outer = _PREFIX.match(path)
    if outer is None:
        return None
    rest = outer.group("rest")
    for candidate in routes:
        m = candidate.pattern.match(rest)
        if m:
            return Match(candidate, outer.group("prefix"), int(outer.group("project_id")), m.groupdict())
    return None
