"""What the Redash emulator's handlers share: the request context, Redash's error answers and their
texts, the route record, lookups by id and paging."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from .objects import Query
    from .redash_state import RedashState

T = TypeVar("T")

NOT_LOGGED_IN = "Couldn't find resource. Please login and try again."
NOT_FOUND = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."  # noqa: E501 - literal text
NO_CACHED = "No cached result found for this query."
CONFLICT = "A conflict happened while processing the request. The resource might have been modified while the request was being processed."  # noqa: E501 - literal text
UNSAFE = "This query contains potentially unsafe parameters and cannot be executed on a shared dashboard or an embedded visualization."  # noqa: E501 - literal text
SELECT_DS = "Please select data source to run this query."
INTERNAL = "Internal Server Error"
HTML_500 = (
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request. Either the server is "
    "overloaded or there is an error in the application.</p>\n"
)


class HTTPError(Exception):
    """Answer with ``status`` and a JSON ``{"message": ...}`` (or ``body`` when given)."""

    def __init__(self, status: int, message: str = "", body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"message": message}


def job_error(status: int, message: str) -> HTTPError:
    """:return: the error Redash shapes as a failed job (``{"job": {"status": 4, "error": ...}}``)."""
    return HTTPError(status, body={"job": {"status": 4, "error": message}})


def int_or_500(text: str) -> int:
    """:return: ``text`` as an int. :raises HTTPError: 500, as Redash answers a non-numeric id."""
    try:
        return int(text)
    except ValueError:
        raise HTTPError(500, INTERNAL) from None


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
    """One request being handled, and the emulator state it acts on."""

    request: Request
    args: dict[str, str]
    auth: Auth
    body: dict[str, Any]
    state: RedashState


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


def require_user(ctx: Ctx) -> None:
    """:raises HTTPError: 404 "Couldn't find resource..." when the caller holds a query key, not a user key.

    Recorded (README item 1, ``auth_query_api_key.json``): a query key used outside its own query's
    read and execute routes is answered like no key at all. What a query key gets on its own
    query's edit, archive, fork or legacy refresh was never recorded; this is the recorded answer,
    not a guess at another one.
    """
    if ctx.auth.is_api_user:
        raise HTTPError(404, NOT_LOGGED_IN)


def lookup(table: Mapping[int, T], text: str, status: int = 404) -> T:
    """:return: the object with id ``text`` in ``table``.

    :raises HTTPError: 500 for a non-numeric id; ``status`` (404, or 500 where Redash answers that)
        for an unknown one.
    """
    found = table.get(int_or_500(text))
    if found is None:
        raise HTTPError(status, NOT_FOUND if status == 404 else INTERNAL)
    return found


def apply_fields(target: Any, body: dict[str, Any], names: tuple[str, ...]) -> None:
    """Copy the fields ``names`` that ``body`` has onto ``target`` (an edit request)."""
    for name in names:
        if name in body:
            setattr(target, name, body[name])


def paging(ctx: Ctx, items: list[Any]) -> tuple[int, int, list[Any]]:
    """:return: (page, page size, the page's items), from ``?page=`` and ``?page_size=``.

    :raises HTTPError: 400 with Redash's texts for a page or size out of range.
    """

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


def page_response(ctx: Ctx, items: list[Any], serialise: Callable[[Any], Any]) -> Response:
    """:return: one page of ``items`` as Redash's ``{"count", "page", "page_size", "results"}``."""
    page, size, chunk = paging(ctx, items)
    return json_response(
        {"count": len(items), "page": page, "page_size": size, "results": [serialise(i) for i in chunk]}
    )


def query_of(ctx: Ctx) -> Query:
    """:return: the query named by the route's ``query_id``. :raises HTTPError: 500 / 404 as Redash."""
    return lookup(ctx.state.objects.queries, ctx.args["query_id"])
