"""PostHog's error bodies: the exceptions-hog envelope and the bare ``{"error": ...}`` bodies.

REFERENCE.md §1.1 (envelope ``{type, code, detail, attr}``), §1.2 (bare bodies), §6 (429 bodies).
Handlers raise :class:`ApiError`; the app turns it into the answer.

REFERENCE.md fixes each error's status, ``type``, ``code`` and ``attr``, and a few ``detail`` texts
(the invalid personal key, a missing scope, the concurrency 429). The other ``detail`` texts below
(and the run-argument texts in ``runs.py``) are taken from PostHog's source but are not in
REFERENCE.md: the client shows them and never matches on them, and tests must not either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: exceptions-hog's detail for an unhandled exception (a 500 that is not an APIException).
SERVER_ERROR_DETAIL = "A server error occurred."
#: PostHog's own ``api_not_found`` view (posthog/api/__init__.py; not in REFERENCE.md, see the README).
ROUTE_NOT_FOUND_DETAIL = "Endpoint not found."
NOT_FOUND_DETAIL = "Not found."
NOT_AUTHENTICATED_DETAIL = "Authentication credentials were not provided."
INVALID_KEY_DETAIL = "Personal API key found in request Authorization header is invalid."
NO_PROJECT_ACCESS_DETAIL = "You don't have access to the project."
NO_PERSONAL_KEY_ACCESS_DETAIL = "This action does not support Personal API Key access"
CONCURRENCY_DETAIL = "Too many concurrent requests. Please try again later."
CAPACITY_DETAIL = "Queries are a little too busy right now. We're working to free up resources. Please try again later."

#: Cost guardrail errors of a run (§2.6 step 11): 400 ``server_error`` with these codes. The texts
#: are those of PostHog's ClickHouse exceptions (posthog/exceptions.py).
GUARDRAIL_DETAILS = {
    "query_timeout": (
        "Query has hit the max execution time before completing. See our docs for how to improve your query "
        "performance. You may need to materialize."
    ),
    "query_memory_limit": (
        "Query has reached the max memory limit before completing. See our docs for how to improve your query "
        "memory footprint. You may need to narrow date range or materialize."
    ),
    "query_too_large": "Query size exceeded.",
    "query_estimated_too_slow": (
        "Estimated query execution time is too long. Try reducing its scope by changing the time range."
    ),
}


@dataclass
class Reply:
    """One answer: status, body (JSON, or text when ``media_type`` is not JSON; None = empty) and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


class ApiError(Exception):
    """An error answer; raised anywhere below the app, rendered by it."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def reply(self) -> Reply:
        """:return: the answer this error stands for."""
        return Reply(self.status, self.body, dict(self.headers))


def envelope(type_: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    """:return: the exceptions-hog body (§1.1): exactly ``type``, ``code``, ``detail``, ``attr``."""
    return {"type": type_, "code": code, "detail": detail, "attr": attr}


def validation(detail: str, attr: str | None = None, code: str = "invalid_input") -> ApiError:
    """:return: a 400 ``validation_error`` (``attr`` names the field, nested keys joined by ``__``)."""
    return ApiError(400, envelope("validation_error", code, detail, attr))


def parse_error(detail: str) -> ApiError:
    """:return: a 400 ``invalid_request`` / ``parse_error`` (bad JSON, or a strict model refusing the body)."""
    return ApiError(400, envelope("invalid_request", "parse_error", detail))


def not_found(detail: str = NOT_FOUND_DETAIL) -> ApiError:
    """:return: a 404 ``invalid_request`` / ``not_found`` envelope."""
    return ApiError(404, envelope("invalid_request", "not_found", detail))


def route_not_found() -> ApiError:
    """:return: what PostHog answers for a path no route matches (any method, no auth needed)."""
    return not_found(ROUTE_NOT_FOUND_DETAIL)


def method_not_allowed(method: str) -> ApiError:
    """:return: DRF's 405 for a known path with a method it does not serve."""
    return ApiError(405, envelope("invalid_request", "method_not_allowed", f'Method "{method}" not allowed.'))


def not_authenticated() -> ApiError:
    """:return: 401 for a request without credentials (§7 rule 2)."""
    return ApiError(401, envelope("authentication_error", "not_authenticated", NOT_AUTHENTICATED_DETAIL))


def authentication_failed(detail: str = INVALID_KEY_DETAIL) -> ApiError:
    """:return: 401 for an unknown key (§7 rule 2)."""
    return ApiError(401, envelope("authentication_error", "authentication_failed", detail))


def permission_denied(detail: str) -> ApiError:
    """:return: 403 ``permission_denied`` (missing scope, other project, action closed to personal keys)."""
    return ApiError(403, envelope("authentication_error", "permission_denied", detail))


def missing_scope(scope: str) -> ApiError:
    """:return: 403 naming the scope the key lacks (§7 rule 2)."""
    return permission_denied(f"API key missing required scope '{scope}'")


def throttled(wait_seconds: float, retry_after_header: bool) -> ApiError:
    """:return: DRF's 429 with "Expected available in N second(s)." (§6); ``Retry-After`` only when asked,
    since PostHog's handler may drop DRF's header (REFERENCE.md §9)."""
    wait = max(1, math.ceil(wait_seconds))
    unit = "second" if wait == 1 else "seconds"
    detail = f"Request was throttled. Expected available in {wait} {unit}."
    headers = {"Retry-After": str(wait)} if retry_after_header else None
    return ApiError(429, envelope("throttled_error", "throttled", detail), headers)


def too_many_concurrent() -> ApiError:
    """:return: the concurrency 429 (§2.6 step 11, §6): no wait time, no ``Retry-After``."""
    return ApiError(429, envelope("throttled_error", "throttled", CONCURRENCY_DETAIL))


def server_error(detail: str = SERVER_ERROR_DETAIL, code: str = "error", status: int = 500) -> ApiError:
    """:return: a ``server_error`` envelope (500 by default; 400 guardrails and 503 capacity use it too)."""
    return ApiError(status, envelope("server_error", code, detail))


def guardrail(code: str) -> ApiError:
    """:return: the 400 cost guardrail error ``code`` (one of :data:`GUARDRAIL_DETAILS`)."""
    return server_error(GUARDRAIL_DETAILS[code], code, 400)


def capacity() -> ApiError:
    """:return: the 503 ``query_capacity`` error of a run (§2.6 step 11)."""
    return server_error(CAPACITY_DETAIL, "query_capacity", 503)


def bare(status: int, message: str, **extra: Any) -> ApiError:
    """:return: one of the hand-built ``{"error": message, ...}`` bodies of §1.2."""
    return ApiError(status, {"error": message, **extra})


class DropConnection(Exception):
    """Close the client's connection without any answer (an injected connection reset)."""
