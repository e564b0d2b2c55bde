"""What the sync hook and the async client share: configuration, routes, error mapping, retries.

Only the transport differs between :class:`~airflow_provider_dash.hooks.dash.DashHook` (requests)
and :class:`~airflow_provider_dash.hooks.dash_async.DashAsyncClient` (httpx). Each route is built
in one function here, each error text is written once here, and both transports retry with the one
predicate and the one wait function below.

The API key travels only in the ``Authorization: Key <key>`` header: it is never put in a URL, a
log line, an error text or a ``repr``.
"""

from __future__ import annotations

import email.utils
import enum
import json
import math
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_dash.exceptions import (
    DashApiError,
    DashAuthError,
    DashConfigError,
    DashConnectionError,
    DashError,
    DashJobNotFoundError,
    DashNotFoundError,
    DashResponseError,
)
from airflow_provider_dash.hooks._redash_routes import (  # noqa: F401 - re-exported for the transports
    DOWNLOAD_FORMATS,
    Request,
    archive_dashboard_request,
    archive_query_request,
    cancel_job_request,
    check_download_format,
    create_dashboard_request,
    create_query_request,
    download_request,
    edit_dashboard_request,
    edit_query_request,
    execute_query_request,
    execute_sql_request,
    for_retry,
    get_dashboard_request,
    get_job_request,
    get_query_request,
    job_what,
    latest_result_request,
    list_dashboards_request,
    list_data_sources_request,
    list_queries_request,
    query_result_request,
    refresh_query_request,
    session_request,
)
from airflow_provider_dash.models.redash import (  # noqa: F401 - clean_job_error etc. re-exported
    Job,
    JobStatus,
    clean_job_error,
    job_failure_message,
    raise_for_job,
)

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
#: First retry delay (seconds); it doubles on every retry, up to :data:`BACKOFF_CAP`.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 10.0
#: The longest ``Retry-After`` honoured, so a misbehaving proxy cannot park a task for an hour.
RETRY_AFTER_CAP = 60.0
#: Redash's answer when the key is missing, wrong, or a query key used outside its query.
AUTH_FAILED_TEXT = "Couldn't find resource. Please login and try again."
PAGE_OUT_OF_RANGE_TEXT = "Page is out of range."

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """A normalised Dash connection: everything a transport needs, nothing Airflow-specific.

    :param conn_id: the Airflow connection id (used in error texts).
    :param base_url: scheme, host, optional port and org path, without a trailing slash.
    :param api_key: a user API key, or a query API key (then set ``query_id``). Never in ``repr``.
    :param verify: ``True``/``False`` or the path of a CA bundle.
    :param timeout: seconds per HTTP request.
    :param retries: how many times a failed request is retried (0 = no retry).
    :param query_id: for a query API key, the id of the query the key belongs to.
    """

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    query_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, the key included: never log these."""
        return {"Authorization": f"Key {self.api_key}", "Accept": "application/json"}

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (relative to the base URL, no leading slash)."""
        return f"{self.base_url}/{path.lstrip('/')}"


def _extras(conn: Any) -> dict[str, Any]:
    # Read ``conn.extra`` ourselves: ``extra_dejson`` masks secrets synchronously, which must not
    # run inside the triggerer's event loop. None of our extras is a secret.
    raw = getattr(conn, "extra", None)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise DashConfigError(
            f"Connection {conn.conn_id!r}: the extra field is not valid JSON; "
            'expected e.g. {"verify": true, "timeout": 30, "retries": 5}'
        ) from None
    if not isinstance(value, dict):
        raise DashConfigError(f"Connection {conn.conn_id!r}: the extra field must be a JSON object")
    return value


def _as_bool_or_path(conn_id: str, value: Any) -> bool | str:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        if os.path.exists(value):
            return value
    raise DashConfigError(
        f"Connection {conn_id!r}: extra 'verify' must be true, false or the path of an existing CA bundle, "
        f"got {value!r}"
    )


def _as_number(conn_id: str, name: str, value: Any, default: float, *, integer: bool, minimum: float) -> Any:
    if value is None or value == "":
        return default
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number) or number < minimum or (integer and number != int(number)):
        kind = "a whole number" if integer else "a number"
        raise DashConfigError(f"Connection {conn_id!r}: extra {name!r} must be {kind} >= {minimum:g}, got {value!r}")
    return int(number) if integer else float(number)


def _base_url(conn_id: str, host: str, schema: str | None, port: int | None, protocol: Any = None) -> str:
    host = host.strip()
    schema = (schema or "").strip().strip("/")
    if "://" not in host:
        # The scheme comes from the schema field or the extra ``protocol``; https by default.
        choices = [str(c).strip().lower() for c in (schema, protocol) if c]
        scheme = next((c for c in choices if c in ("http", "https")), "https")
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DashConfigError(
            f"Connection {conn_id!r}: host {host!r} is not a base URL such as https://redash.example.com"
        )
    if parts.query or parts.fragment:
        raise DashConfigError(f"Connection {conn_id!r}: the base URL must not carry a query string or fragment")
    if parts.username or parts.password:
        raise DashConfigError(
            f"Connection {conn_id!r}: put no credentials in the base URL; the API key goes in the password field"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{int(port)}"
    path = parts.path.rstrip("/")
    # A schema that is not a URL scheme is an org path (URI form ``dash://:key@host/acme``).
    if schema and schema.lower() not in ("http", "https") and not path:
        path = "/" + schema
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def config_from_connection(conn: Any) -> ConnectionConfig:
    """Normalise an Airflow connection into a :class:`ConnectionConfig`.

    ``host`` is the base URL (when it has no scheme: ``schema`` or extra ``protocol`` if either is
    http/https, else ``https://``; ``port`` is added when the host has none; an org path such as
    ``https://app.redash.io/acme`` is kept, and a ``schema`` that is not a scheme is taken as the org
    path, as in the URI ``dash://:key@host/acme``), ``password`` the API key, and the extras ``verify``,
    ``timeout``, ``retries`` and ``query_id`` tune the client (strings such as ``"false"`` accepted).

    :param conn: an Airflow ``Connection`` (any object with the same attributes).
    :return: the normalised configuration.
    :raises DashConfigError: naming the connection id and what is missing or wrong.
    """
    conn_id = str(getattr(conn, "conn_id", None) or "<unnamed>")
    host = getattr(conn, "host", None)
    if not host or not str(host).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no host: set it to the server's base URL, e.g. https://redash.example.com"
        )
    api_key = getattr(conn, "password", None)
    if not api_key or not str(api_key).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no API key: put a user API key (or a query API key with extra query_id) "
            "in the password field"
        )
    extras = _extras(conn)
    query_id = extras.get("query_id")
    query_id = None if query_id in (None, "") else _as_number(conn_id, "query_id", query_id, 0, integer=True, minimum=1)
    return ConnectionConfig(
        conn_id=conn_id,
        base_url=_base_url(
            conn_id, str(host), getattr(conn, "schema", None), getattr(conn, "port", None), extras.get("protocol")
        ),
        api_key=str(api_key).strip(),
        verify=_as_bool_or_path(conn_id, extras.get("verify")),
        timeout=_as_number(conn_id, "timeout", extras.get("timeout"), DEFAULT_TIMEOUT, integer=False, minimum=0.001),
        retries=_as_number(conn_id, "retries", extras.get("retries"), DEFAULT_RETRIES, integer=True, minimum=0),
        query_id=query_id,
    )


# --------------------------------------------------------------------------- error mapping


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


# --------------------------------------------------------------------------- retry policy

FailureKind = Literal["connect", "timeout", "read", "tls"]


class TransportFailure(Exception):
    """No HTTP answer: raised by a transport, judged by :func:`should_retry` (internal).

    :param kind: ``connect`` (the request surely never reached the server), ``timeout``, ``read``
        (connection dropped after sending) or ``tls``.
    :param detail: the underlying error, without headers.
    """

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class RetryableStatus(Exception):
    """An HTTP answer worth another try (429, 5xx): raised by a transport, judged by :func:`should_retry`."""

    def __init__(self, status: int, body: bytes, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class MalformedBody(Exception):
    """A success status whose body is not JSON (cut by a proxy, a reset mid-body): raised by a transport
    for requests that expect JSON, judged by :func:`should_retry` like an answer lost on the way.

    :param status: the HTTP status of the answer.
    :param text: the start of the body, for the error text.
    """

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status} with a body that is not JSON")
        self.status = status
        self.text = text


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every error behind it (causes, contexts, and errors wrapped in ``args``)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen) or len(seen) > 50:
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return seen


def is_tls_failure(exc: BaseException) -> bool:
    """True when a transport error comes from TLS (certificate verification, handshake)."""
    import ssl

    return any(isinstance(e, ssl.SSLError) for e in _chain(exc)) or "CERTIFICATE_VERIFY_FAILED" in str(exc)


def is_connect_failure(exc: BaseException) -> bool:
    """True when no connection was made (refused, DNS failure): the request never reached the server."""
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(
        names & {"NewConnectionError", "ConnectionRefusedError", "NameResolutionError", "gaierror", "ConnectError"}
    )


def is_retryable_status(status: int) -> bool:
    """True for the statuses worth another try: 429 and every 5xx."""
    return status == 429 or status >= 500


def should_retry(request: Request, failure: BaseException) -> bool:
    """The one retry predicate.

    Retried: connection errors, timeouts, 429, 5xx (but a 500 only where the route says it is worth
    it: not a cancel) and a success whose body is not JSON. Never: TLS failures and other 4xx. A request
    that is not idempotent (creating an object) is retried only when it surely did not take effect:
    the connection was never made, or the server said 429/502/503/504.
    """
    if isinstance(failure, TransportFailure):
        if failure.kind == "tls":
            return False
        return request.idempotent or failure.kind == "connect"
    if isinstance(failure, RetryableStatus):
        if failure.status == 500 and not request.route.retry_500:
            return False
        return request.idempotent or failure.status in (429, 502, 503, 504)
    if isinstance(failure, MalformedBody):
        # The request took effect; sending it again is safe only when it is idempotent (an execution
        # is, through for_retry: the retry gets the same job or the fresh result).
        return request.idempotent
    return False


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), capped; ``None`` if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_CAP)


def retry_delay(retries_done: int, failure: BaseException | None = None) -> float:
    """The one wait function: seconds before retry number ``retries_done + 1``.

    ``Retry-After`` (capped at :data:`RETRY_AFTER_CAP`) wins when the server sent one; otherwise
    exponential backoff from :data:`BACKOFF_BASE`, doubling, capped at :data:`BACKOFF_CAP`, with
    jitter (between half and all of it) so many clients do not retry in step.
    """
    if isinstance(failure, RetryableStatus):
        after = parse_retry_after(failure.retry_after)
        if after is not None:
            return after
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(retries_done, 32)))
    return delay * random.uniform(0.5, 1.0)


def tenacity_kwargs(request: Request, config: ConnectionConfig) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` implementing the shared policy."""
    import tenacity  # a dependency of Airflow itself, but kept out of import time of this module

    def _retry(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None and outcome.failed else None
        return failure is not None and should_retry(request, failure)

    def _wait(state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None and state.outcome.failed else None
        return retry_delay(state.attempt_number - 1, failure)

    return {
        "retry": _retry,
        "wait": _wait,
        "stop": tenacity.stop_after_attempt(config.retries + 1),
        "reraise": True,
    }


def final_error(request: Request, failure: BaseException, config: ConnectionConfig) -> DashError:
    """The error to raise once retrying is over (or not allowed) for ``failure``."""
    if isinstance(failure, RetryableStatus):
        error = error_for_response(request, failure.status, failure.body, config.base_url)
        assert error is not None  # a retryable status is an error status
        return error
    url = request.url(config.base_url)
    if isinstance(failure, MalformedBody):
        return DashResponseError(
            f"{request.method} {url} for {request.what} answered {failure.status} with a body that is not JSON "
            f"({config.retries + 1} attempt(s)): {failure.text[:200]!r}"
        )
    if isinstance(failure, TransportFailure) and failure.kind == "tls":
        return DashConnectionError(
            f"TLS verification failed for {config.base_url} ({request.method} {url}): {failure.detail}. "
            "Set the connection's extra 'verify' to a CA bundle path (or false to skip verification).",
            method=request.method,
            url=url,
        )
    detail = failure.detail if isinstance(failure, TransportFailure) else str(failure)
    return DashConnectionError(
        f"No answer from {config.base_url} for {request.what} ({request.method} {url}) after "
        f"{config.retries + 1} attempt(s); last error: {detail}",
        method=request.method,
        url=url,
    )


# --------------------------------------------------------------------------- cancelling

#: Why a query API key cannot cancel: Redash answers its DELETE with 404 (``/api/jobs/<id>``) or
#: 500 (the query-scoped route), and the job runs on (recordings ``job_cancel_query_api_key.json``).
QUERY_KEY_CANNOT_CANCEL = (
    "a query API key cannot cancel jobs on Redash (only DELETE /api/jobs/<id> with a user API key cancels); "
    "put a user API key in the connection to let timeouts and kills cancel"
)
#: How long a cancel keeps reading the job back after Redash accepted the DELETE.
CANCEL_CONFIRM_SECONDS = 5.0


class CancelState(enum.StrEnum):
    """What a cancel achieved, as the server tells it afterwards."""

    CANCELLED = "cancelled"
    ENDED = "ended"  # the job finished or failed before the cancel took effect
    RUNNING = "running"  # the server still shows the job queued or running
    REFUSED = "refused"  # the key cannot cancel (a query API key); nothing was changed


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """The result of a cancel, read back from the server.

    :ivar job_id: the job.
    :ivar query_id: its query, when known.
    :ivar state: the :class:`CancelState`.
    :ivar reason: why it was not cancelled (``""`` when it was).
    :ivar job: the job as read back (``None`` when the cancel was refused).
    """

    job_id: str
    query_id: int | None
    state: CancelState
    reason: str = ""
    job: Job | None = None

    @property
    def cancelled(self) -> bool:
        """True when the server reports the job cancelled."""
        return self.state is CancelState.CANCELLED

    @property
    def summary(self) -> str:
        """Completes "the job was ...": ``cancelled``, or why not and whether it may still run."""
        if self.state is CancelState.CANCELLED:
            return "cancelled"
        if self.state is CancelState.ENDED:
            return f"not cancelled: {self.reason}"
        return f"not cancelled: {self.reason}; it may still be running on the server"

    @property
    def message(self) -> str:
        """One log line naming the job, its query and the outcome."""
        what = job_what(self.job_id, self.query_id)
        return f"{what[:1].upper()}{what[1:]} was {self.summary}"


def refused_cancel(job_id: str, query_id: int | None, reason: str) -> CancelOutcome:
    """The outcome of a cancel the key cannot make (nothing was sent, or Redash refused the key)."""
    return CancelOutcome(job_id, query_id, CancelState.REFUSED, reason)


def declared_query_key_refusal(config: ConnectionConfig) -> str | None:
    """Why this connection cannot cancel, when it says it holds a query API key (extra ``query_id``)."""
    if config.query_id is None:
        return None
    holds = f"connection {config.conn_id!r} holds a query API key (extra query_id={config.query_id})"
    return f"{holds}, and {QUERY_KEY_CANNOT_CANCEL}"


def auth_refusal(error: DashAuthError) -> str:
    """Why the key cannot cancel, after Redash refused the cancel's DELETE with its 404."""
    refused = f"Redash refused the key for {error.method} {error.url} (HTTP 404): it is not a user key (or is wrong)"
    return f"{refused}: {QUERY_KEY_CANNOT_CANCEL}"


def wants_read_back(job: Job, accepted: bool) -> bool:
    """True while a cancel Redash accepted has not shown on the job yet (read it again, briefly)."""
    return accepted and not job.is_terminal


def cancel_outcome(job_id: str, query_id: int | None, job: Job, accepted: bool) -> CancelOutcome:
    """Judge a cancel from the job read back after the DELETE.

    :param accepted: Redash answered the DELETE with 200. A 500 means the job had already ended,
        was already cancelled, or is unknown; the job read back tells which.
    """
    if job.is_cancelled:
        return CancelOutcome(job_id, query_id, CancelState.CANCELLED, job=job)
    if job.is_terminal:
        ended = f"finished with result {job.query_result_id}" if job.succeeded else "failed"
        return CancelOutcome(job_id, query_id, CancelState.ENDED, f"it {ended} before the cancel took effect", job)
    answer = "accepted the cancel" if accepted else "answered HTTP 500 to the cancel"
    return CancelOutcome(
        job_id, query_id, CancelState.RUNNING, f"Redash {answer}, but the job still reports {job.status.name}", job
    )


# --------------------------------------------------------------------------- shared jobs


def job_is_shared(job: Job, server_date: str | None, round_trip: float) -> bool | None:
    """Was ``job`` already running before the execute request reached the server?

    Redash hands identical SQL in flight the same job, so a job that started before our request
    arrived belongs to another run too, and cancelling it would fail that run. A job still queued
    is taken as ours (a run shared while both wait in the queue cannot be told apart). A running
    job is judged on the server's own clock: its start time (``updated_at``) against the moment
    the request arrived, which is no earlier than the answer's ``Date`` header (whole seconds,
    rounded down) minus the round trip. Only a start before that bound proves the job shared;
    a job started within about a second before the request is taken as ours.

    :param server_date: the answer's ``Date`` header, if any.
    :param round_trip: seconds from sending the request to reading the answer's headers.
    :return: ``True`` (shared), ``False`` (ours), or ``None`` when it cannot be told (no ``Date``
        header or start time); callers then treat the job as theirs and say so.
    """
    if job.status is not JobStatus.STARTED:
        return False
    started = job.started_at
    if started is None or not server_date:
        return None
    try:
        answered = email.utils.parsedate_to_datetime(server_date)
    except (TypeError, ValueError):
        return None
    if answered is None:
        return None
    arrived_no_earlier_than = answered.timestamp() - max(0.0, round_trip)
    return started < arrived_no_earlier_than
