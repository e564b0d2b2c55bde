"""PostHog's errors, read once: the exceptions-hog envelope, the bare ``{"error": ...}`` bodies, the final error.

REFERENCE.md §1.1 (``{type, code, detail, attr}``), §1.2 (``{"error": ..., "current_version": N}``),
§2.6 step 11 (cost guardrails: 400 ``server_error`` with a ``query_*`` code, never retried; 503
``query_capacity``, retried), §6 (429 ``Expected available in N seconds``; ``Retry-After`` optional).
Every text names what the request was about (the endpoint), the field PostHog blamed and what it expects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_dash.exceptions import (
    DashApiError,
    DashAuthError,
    DashError,
    DashNotFoundError,
)
from airflow_provider_dash.hooks._posthog_config import PostHogConfig
from airflow_provider_dash.hooks._posthog_routes import Request
from airflow_provider_dash.retry import RetryableStatus, no_answer_error

#: The cost guardrail codes of a run (400 ``server_error``): the query is too expensive, retrying cannot help.
GUARDRAIL_CODES = frozenset({"query_timeout", "query_memory_limit", "query_too_large", "query_estimated_too_slow"})

#: What PostHog expects of the fields it may blame (``attr``), for the error texts.
EXPECTED: Mapping[str, str] = {
    "refresh": "expected 'cache', 'force' or 'direct' ('direct' only for a materialized version)",
    "variables": "expected only the endpoint's own variable names, and every required one on a materialized version",
    "version": "expected the number of an existing, active version",
    "limit": "expected a whole number >= 1, on a HogQL endpoint only",
    "offset": "expected a whole number >= 0 together with limit, on a HogQL endpoint only",
    "name": "expected a name matching ^[a-zA-Z][a-zA-Z0-9_-]{0,127}$ that no live endpoint uses",
    "query": "expected a HogQLQuery (or insight query) whose {variables.x} placeholders are defined in query.variables",
    "data_freshness_seconds": "expected one of 900, 1800, 3600, 21600, 43200, 86400, 604800",
    "names": "expected a list of endpoint names",
}

_WAIT = re.compile(r"Expected available in (\d+(?:\.\d+)?) second")


@dataclass(frozen=True)
class ErrorBody:
    """An error answer's body, whichever shape it had (envelope, bare ``error``, or neither)."""

    detail: str
    type: str | None = None
    code: str | None = None
    attr: str | None = None
    current_version: int | None = None

    def describe(self) -> str:
        """``validation_error/invalid_input on field 'variables': Unknown variable(s): x``."""
        kind = "/".join(p for p in (self.type, self.code) if p)
        where = f" on field {self.attr!r}" if self.attr else ""
        return f"{kind}{where}: {self.detail}" if kind or where else self.detail


def read_error(body: bytes | str | None) -> ErrorBody:
    """The error of an answer: ``detail`` of the envelope, else ``error`` of a bare body, else the text."""
    if not body:
        return ErrorBody("")
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        plain = re.sub(r"<[^>]+>", " ", text)
        return ErrorBody(" ".join(plain.split())[:200])
    if not isinstance(data, Mapping):
        return ErrorBody(text.strip()[:200])
    if "detail" in data:
        attr = data.get("attr")
        return ErrorBody(
            str(data.get("detail")),
            str(data["type"]) if data.get("type") else None,
            str(data["code"]) if data.get("code") else None,
            str(attr) if attr else None,
        )
    if "error" in data:
        current = data.get("current_version")
        return ErrorBody(str(data["error"]), current_version=current if isinstance(current, int) else None)
    return ErrorBody(text.strip()[:200])


def retry_after(header: str | None, body: bytes | str | None) -> str | None:
    """The wait before another try: ``Retry-After`` when sent, else the seconds of PostHog's 429 text
    ("Request was throttled. Expected available in 37 seconds.": the real server may not send the header)."""
    if header:
        return header
    found = _WAIT.search(read_error(body).detail)
    return found.group(1) if found else None


def error_for_response(
    request: Request, status: int, body: bytes | str | None, config: PostHogConfig
) -> DashError | None:
    """Map an HTTP answer to the error to raise, or ``None`` for a success.

    :return: :class:`DashAuthError` (401/403), :class:`DashNotFoundError` (404), else :class:`DashApiError`
        with the server's ``code`` and blamed ``field``.
    """
    if status < 400:
        return None
    error = read_error(body)
    url = request.url(config.base_url)
    where = f"{request.method} {url}"
    kwargs: dict[str, Any] = {
        "status": status,
        "method": request.method,
        "url": url,
        "server_message": error.detail,
        "code": error.code,
        "field": error.attr,
    }
    said = f"HTTP {status} {error.describe()}"
    if status in (401, 403):
        hint = ""
        if config.is_secret_key and not request.route.run:
            hint = " A project secret key (phs_) may only run endpoints; use a personal API key (phx_) for this."
        elif "scope" in error.detail:
            hint = " Give the personal API key that scope (endpoint:read, endpoint:write, query:read)."
        return DashAuthError(
            f"{where} was refused for {request.what} on {config.base_url} (project {config.project_id}): {said}.{hint}",
            **kwargs,
        )
    if status == 404:
        current = f"; the current version is {error.current_version}" if error.current_version is not None else ""
        return DashNotFoundError(
            f"{request.what} not found on {config.base_url} (project {config.project_id}; {where}: {said}{current}). "
            "An inactive or deleted endpoint cannot run.",
            **kwargs,
        )
    if error.code in GUARDRAIL_CODES:
        return DashApiError(
            f"{where} for {request.what} hit PostHog's cost guardrail ({said}); not retried: narrow the query "
            "(date range, filters) or materialize the endpoint",
            **kwargs,
        )
    expected = EXPECTED.get(error.attr or "")
    tail = f"; {expected}" if expected else ""
    return DashApiError(f"{where} failed for {request.what}: {said}{tail}", **kwargs)


def final_error(request: Request, failure: BaseException, config: PostHogConfig) -> DashError:
    """The error to raise once retrying is over (or not allowed) for ``failure``."""
    if isinstance(failure, RetryableStatus):
        error = error_for_response(request, failure.status, failure.body, config)
        assert error is not None  # a retryable status is an error status
        if failure.status in (429, 502, 503, 504) and config.retries:
            error.args = (f"{error.args[0]} (after {config.retries + 1} attempts)",)
        return error
    return no_answer_error(request.method, request.url(config.base_url), request.what, config, failure)


class QueryCompletedWithError:
    """``GET /query/{id}``'s 400 or 500: the query completed with an error (REFERENCE.md §2.11).

    Passed as ``accept`` to a send, it takes those answers (keeping the body) instead of mapping
    them to a request error; :meth:`error` then says what the query's own status said.
    """

    def __init__(self) -> None:
        self.content = b""

    def __call__(self, status: int, content: bytes) -> bool:
        if status in (400, 500):
            self.content = content
            return True
        return False

    def error(self, what: str, status: int) -> DashError:
        """The failure, with the query status's ``error_message`` when PostHog sent one (400)."""
        message = None
        try:
            data = json.loads(self.content)
        except ValueError:
            data = None
        query_status = data.get("query_status") if isinstance(data, dict) else None
        if isinstance(query_status, dict) and query_status.get("error_message"):
            message = str(query_status["error_message"])
        return DashError(f"{what} failed on the server (HTTP {status})" + (f": {message}" if message else ""))
