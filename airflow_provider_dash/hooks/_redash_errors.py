"""Redash's errors, read once: its two error shapes, 404 for a bad key, 500 for an unknown job, the final error."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_dash.exceptions import (
    DashApiError,
    DashAuthError,
    DashError,
    DashJobNotFoundError,
    DashNotFoundError,
)
from airflow_provider_dash.hooks._redash_config import ConnectionConfig
from airflow_provider_dash.hooks._redash_routes import Request
from airflow_provider_dash.retry import RetryableStatus, no_answer_error

#: Redash's answer when the key is missing, wrong, or a query key used outside its query.
AUTH_FAILED_TEXT = "Couldn't find resource. Please login and try again."
PAGE_OUT_OF_RANGE_TEXT = "Page is out of range."


def server_message(body: bytes | str | None) -> str:
    """Redash's error text from either shape: ``{"message": ...}`` or ``{"job": {"error": ...}}``.

    A body that is not JSON gives its first 200 characters (HTML tags removed).
    """
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        plain = re.sub(r"<[^>]+>", " ", text)
        return " ".join(plain.split())[:200]
    if isinstance(data, Mapping):
        if isinstance(data.get("message"), str):
            return data["message"]
        job = data.get("job")
        if isinstance(job, Mapping) and job.get("error"):
            return str(job["error"])
        if isinstance(data.get("error"), str):
            return data["error"]
    return text.strip()[:200]


def error_for_response(request: Request, status: int, body: bytes | str | None, base_url: str) -> DashError | None:
    """Map an HTTP answer to the error to raise, or ``None`` for a success (2xx/3xx).

    :param request: the request that got the answer.
    :param status: HTTP status code.
    :param body: the response body (bytes or text).
    :param base_url: the connection's base URL, named in the texts.
    :return: :class:`DashAuthError` (404 "Couldn't find resource"), :class:`DashNotFoundError`
        (other 404), :class:`DashJobNotFoundError` (500 on a job route), else :class:`DashApiError`.
    """
    if status < 400:
        return None
    message = server_message(body)
    url = request.url(base_url)
    where = f"{request.method} {url}"
    kwargs: dict[str, Any] = {"status": status, "method": request.method, "url": url, "server_message": message}
    if status == 404 and message.strip() == AUTH_FAILED_TEXT:
        return DashAuthError(
            f"{where} was refused (HTTP 404 {message!r}): the API key may be wrong, or lack access to "
            f"{request.what} on {base_url}. A query API key only reaches its own query.",
            **kwargs,
        )
    if status == 404:
        return DashNotFoundError(f"{request.what} not found on {base_url} ({where}: HTTP 404 {message!r})", **kwargs)
    if status == 500 and request.job_route:
        return DashJobNotFoundError(
            f"{request.what} not found or expired on {base_url} ({where} kept answering HTTP 500 {message!r})",
            **kwargs,
        )
    return DashApiError(f"{where} failed for {request.what}: HTTP {status} {message!r}", **kwargs)


def is_page_out_of_range(error: BaseException) -> bool:
    """True for Redash's 400 "Page is out of range." (a list ends there)."""
    return isinstance(error, DashApiError) and error.status == 400 and error.server_message == PAGE_OUT_OF_RANGE_TEXT


def final_error(request: Request, failure: BaseException, config: ConnectionConfig) -> DashError:
    """The error to raise once retrying is over (or not allowed) for ``failure``."""
    if isinstance(failure, RetryableStatus):
        error = error_for_response(request, failure.status, failure.body, config.base_url)
        assert error is not None  # a retryable status is an error status
        return error
    return no_answer_error(request.method, request.url(config.base_url), request.what, config, failure)
