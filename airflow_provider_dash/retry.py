"""The one retry policy every transport uses: what is worth another try, and how long to wait.

Product-neutral: a transport (requests or httpx, for any server) turns what it met into one of
:class:`TransportFailure`, :class:`RetryableStatus` or :class:`MalformedBody`; :func:`should_retry`
judges it against the request (idempotent? worth a retry on 500?) and :func:`retry_delay` says how
long to wait, honouring ``Retry-After``. :func:`tenacity_kwargs` wires both into tenacity.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from datetime import datetime
from typing import Any, Literal, Protocol

from airflow_provider_dash.exceptions import DashConnectionError, DashError, DashResponseError

#: First retry delay (seconds); it doubles on every retry, up to :data:`BACKOFF_CAP`.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 10.0
#: The longest ``Retry-After`` honoured, so a misbehaving proxy cannot park a task for an hour.
RETRY_AFTER_CAP = 60.0


class RetryableRequest(Protocol):
    """What the policy needs to know of a request."""

    @property
    def idempotent(self) -> bool:
        """Safe to send again when the answer was lost."""

    @property
    def retry_500(self) -> bool:
        """A 500 answer is worth another try."""


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


def httpx_failure(exc: BaseException) -> TransportFailure:
    """Translate an httpx exception into a :class:`TransportFailure` (every product's httpx transport)."""
    import httpx  # only transports that already use httpx call this

    detail = f"{type(exc).__name__}: {exc}"
    if is_tls_failure(exc):
        return TransportFailure("tls", detail)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return TransportFailure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", detail)
    return TransportFailure("read", detail)


def is_retryable_status(status: int) -> bool:
    """True for the statuses worth another try: 429 and every 5xx."""
    return status == 429 or status >= 500


def should_retry(request: RetryableRequest, failure: BaseException) -> bool:
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
        if failure.status == 500 and not request.retry_500:
            return False
        return request.idempotent or failure.status in (429, 502, 503, 504)
    if isinstance(failure, MalformedBody):
        # The request took effect; sending it again is safe only when it is idempotent (an execution
        # is, through for_retry: the retry gets the same job or the fresh result).
        return request.idempotent
    return False


def parse_http_date(value: str) -> datetime | None:
    """The moment an HTTP date header (``Date``, ``Retry-After``) names; ``None`` when it names none."""
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), capped; ``None`` if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = parse_http_date(value)
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


def tenacity_kwargs(request: RetryableRequest, retries: int) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the policy, and ``retries`` retries at most."""
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
        "stop": tenacity.stop_after_attempt(retries + 1),
        "reraise": True,
    }


class _RetriesConfig(Protocol):
    @property
    def base_url(self) -> str: ...

    @property
    def retries(self) -> int: ...


def no_answer_error(method: str, url: str, what: str, config: _RetriesConfig, failure: BaseException) -> DashError:
    """The error once retrying is over for a failure that is not an HTTP error status: a body that is
    not JSON, a TLS failure, or no answer at all (every product words these the same way).

    :return: a ``DashResponseError`` or ``DashConnectionError`` naming the URL and the attempts.
    """
    if isinstance(failure, MalformedBody):
        return DashResponseError(
            f"{method} {url} for {what} answered {failure.status} with a body that is not JSON "
            f"({config.retries + 1} attempt(s)): {failure.text[:200]!r}"
        )
    if isinstance(failure, TransportFailure) and failure.kind == "tls":
        return DashConnectionError(
            f"TLS verification failed for {config.base_url} ({method} {url}): {failure.detail}. "
            "Set the connection's extra 'verify' to a CA bundle path (or false to skip verification).",
            method=method,
            url=url,
        )
    detail = failure.detail if isinstance(failure, TransportFailure) else str(failure)
    return DashConnectionError(
        f"No answer from {config.base_url} for {what} ({method} {url}) after "
        f"{config.retries + 1} attempt(s); last error: {detail}",
        method=method,
        url=url,
    )
