"""Routes and requests for every product's client, product-neutral: what a client may send, in one list.

A :class:`Route` is one kind of request (a method and a path template) with what the retry policy
(:mod:`airflow_provider_dash.retry`) must know of it; a :class:`Request` is one request made from a
route, transport-neutral. Each product subclasses both in its own routes module
(``hooks/_redash_routes.py``, ``hooks/_posthog_routes.py``), adding its flags and the way it builds a
path, and makes every route through its :class:`RouteList`: so that list is everything its clients
can send, and the route guards read it.

Stdlib only: the operators import the products' routes modules on every DAG parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode


@dataclass(frozen=True, slots=True)
class Route:
    """One kind of request a client sends: a method, a path template, and what the retry policy must know.

    :param method: HTTP method.
    :param template: the path, ``{name}`` for each argument.
    :param idempotent: safe to send again when the answer was lost (creating an object is not).
    :param retry_500: a 500 answer is worth another try.
    """

    method: str
    template: str
    idempotent: bool = True
    retry_500: bool = True


RouteT = TypeVar("RouteT", bound=Route)


class RouteList(list[RouteT]):
    """Every route of one product, in definition order: :meth:`add` makes a route and lists it.

    :param kind: the product's :class:`Route` subclass.
    """

    def __init__(self, kind: type[RouteT]) -> None:
        super().__init__()
        self.kind = kind

    def add(self, method: str, template: str, **flags: Any) -> RouteT:
        """A new route of this list's kind, appended to the list.

        :param flags: the route's flags (see the product's :class:`Route` subclass).
        :return: the route.
        """
        route = self.kind(method, template, **flags)
        self.append(route)
        return route


@dataclass(frozen=True, slots=True)
class Request(Generic[RouteT]):
    """One HTTP request, transport-neutral, made by a product's ``Route.request``.

    :param route: the route it follows.
    :param path: path relative to the base URL (no leading slash), may end with a fixed query string.
    :param what: what the request is about, for error texts ("query 7", "endpoint 'daily_signups'").
    :param params: query-string parameters.
    :param json: JSON body (``None`` for none).
    """

    route: RouteT
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
        """A 500 answer is worth another try."""
        return self.route.retry_500

    def url(self, base_url: str) -> str:
        """The full URL with its query string (the key is never part of it)."""
        url = f"{base_url}/{self.path}"
        if self.params:
            url += ("&" if "?" in url else "?") + urlencode(self.params, doseq=True)
        return url
