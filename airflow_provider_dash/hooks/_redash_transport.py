"""The requests transport of the Redash client: the configuration, one session, retries, errors, pages.

Routes, error texts and the retry policy are shared with the async client
(:mod:`._redash_routes`, :mod:`._redash_errors`, :mod:`airflow_provider_dash.retry`); only the
transport is here. It imports no Airflow: :class:`~airflow_provider_dash.hooks.redash_client.RedashClient`
builds the Redash workflows on it, and :class:`~airflow_provider_dash.hooks.redash.DashHook` (the
Airflow face) only adds reading the configuration from an Airflow connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Self

from airflow_provider_dash import retry as _retry
from airflow_provider_dash.connections import warn_if_verification_off
from airflow_provider_dash.exceptions import DashApiError, DashConfigError
from airflow_provider_dash.hooks import _redash_errors as _errors
from airflow_provider_dash.hooks._redash_config import ConnectionConfig
from airflow_provider_dash.hooks._redash_routes import Request, for_retry
from airflow_provider_dash.models.redash import Page, Query

if TYPE_CHECKING:
    import requests

    from airflow_provider_dash.pool import BoundedPool

#: Redash's largest page size: fewest round trips when listing everything.
MAX_PAGE_SIZE = 250

#: Pages of a list fetched ahead of the reader when listing through a pool.
PAGES_AHEAD = 2
#: Connections requests keeps per host by default.
_REQUESTS_POOL_SIZE = 10

_LOG = logging.getLogger("airflow_provider_dash.hooks.redash_client")


def _requests_failure(exc: BaseException) -> _retry.TransportFailure:
    """Translate a requests exception into the shared :class:`~._retry.TransportFailure`."""
    import requests

    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.exceptions.SSLError) or _retry.is_tls_failure(exc):
        return _retry.TransportFailure("tls", detail)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _retry.TransportFailure("connect", detail)
    if isinstance(exc, requests.exceptions.Timeout):
        return _retry.TransportFailure("timeout", detail)
    if isinstance(exc, requests.exceptions.ConnectionError) and _retry.is_connect_failure(exc):
        return _retry.TransportFailure("connect", detail)
    return _retry.TransportFailure("read", detail)


class RedashTransport:
    """The client's configuration and transport: one ``requests.Session``, the shared retry policy.

    :param config: the normalised connection. ``None`` reads it on first use from
        :meth:`_load_config` (the Airflow hook reads its Airflow connection there).
    """

    def __init__(self, config: ConnectionConfig | None = None) -> None:
        super().__init__()
        self._config: ConnectionConfig | None = config
        self._session: requests.Session | None = None
        self._pool_connections = _REQUESTS_POOL_SIZE
        self._queries: dict[int, Query] = {}
        # Set once Redash refused this key a cancel (a query key): later cancels send nothing.
        self._cancel_refusal: str | None = None

    # ------------------------------------------------------------------ connection and transport

    @property
    def log(self) -> Any:
        """The client's logger (the Airflow hook uses Airflow's task logger instead)."""
        return _LOG

    def _load_config(self) -> ConnectionConfig:
        """The configuration when none was given: the Airflow hook reads its connection here.

        :raises DashConfigError: always, for a client made without a configuration.
        """
        raise DashConfigError("This Redash client has no configuration: give one (or use DashHook with a conn id)")

    @property
    def config(self) -> ConnectionConfig:
        """The connection's normalised configuration, read once per client.

        :raises DashConfigError: when the connection lacks a host or key, or has a bad extra.
        """
        if self._config is None:
            self._config = self._load_config()
        return self._config

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session`` (created on first use, reused for every call)."""
        if self._session is None:
            # requests is imported here, not at module top: Airflow imports hooks just to read metadata.
            import requests

            config = self.config
            warn_if_verification_off(self.log, config)
            session = requests.Session()
            session.headers["Accept"] = "application/json"
            # Auth as an auth object, not a default header: requests then skips ~/.netrc for our host,
            # and its rebuild_auth drops the header when a redirect leaves for another host.
            session.auth = _KeyAuth(config.api_key)
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the session (a new one is made if the hook is used again)."""
        if self._session is not None:
            self._session.close()
            self._session = None
            self._pool_connections = _REQUESTS_POOL_SIZE

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, request: Request, config: ConnectionConfig | None = None) -> requests.Response:
        """Send ``request`` with the shared retry policy; return a successful response.

        :raises DashError: the mapped error once retrying is over (or not allowed).
        """
        return self._exchange(request, config)[0]

    def _exchange(
        self, request: Request, config: ConnectionConfig | None = None, *, want_json: bool = False
    ) -> tuple[requests.Response, Any]:
        """Send ``request`` with the shared retry policy; return the successful response and, with
        ``want_json``, its parsed body (``None`` when empty). A success whose body is not JSON is
        retried like a lost answer (a proxy or a reset may cut a body short).

        :raises DashError: the mapped error once retrying is over (or not allowed).
        """
        import requests
        import tenacity

        config = config or self.config
        session = self.get_conn()
        first_attempt_at = time.monotonic()
        attempts = 0
        body: Any = None

        def attempt() -> requests.Response:
            nonlocal attempts, body
            attempts += 1
            current = request if attempts == 1 else for_retry(request, first_attempt_at)
            url = current.url(config.base_url)
            self.log.debug("%s %s (attempt %d)", current.method, url, attempts)
            try:
                response = session.request(
                    current.method,
                    url,
                    json=current.json,
                    timeout=config.timeout,
                    verify=config.verify,
                    stream=current.stream,
                )
            except requests.exceptions.RequestException as exc:
                raise _requests_failure(exc) from None
            if _retry.is_retryable_status(response.status_code):
                raw = response.content
                response.close()
                raise _retry.RetryableStatus(response.status_code, raw, response.headers.get("Retry-After"))
            body = None
            if want_json and response.status_code < 400 and response.content:
                try:
                    body = response.json()
                except ValueError:
                    raise _retry.MalformedBody(response.status_code, response.text[:200]) from None
            return response

        def before_sleep(state: tenacity.RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            self.log.warning(
                "%s %s for %s: %s; retrying in %.1f s (retry %d of %d)",
                request.method,
                request.url(config.base_url),
                request.what,
                failure,
                state.upcoming_sleep,
                state.attempt_number,
                config.retries,
            )

        retrying = tenacity.Retrying(**_retry.tenacity_kwargs(request, config.retries), before_sleep=before_sleep)
        try:
            response = retrying(attempt)
        except (_retry.TransportFailure, _retry.RetryableStatus, _retry.MalformedBody) as failure:
            raise _errors.final_error(request, failure, config) from None
        # Read the body only for an error: a streamed download must not be loaded into memory here.
        error_body = response.content if response.status_code >= 400 else b""
        error = _errors.error_for_response(request, response.status_code, error_body, config.base_url)
        if error is not None:
            response.close()
            raise error
        return response, body

    def _json(self, request: Request, config: ConnectionConfig | None = None) -> Any:
        """Send ``request`` and return its JSON body (``None`` for an empty body).

        :raises DashResponseError: when every answer's body was not JSON.
        """
        return self._exchange(request, config, want_json=True)[1]

    def _pages(self, build: Callable[[int, int], Request], page_size: int, start: int = 1) -> Iterator[Any]:
        """Yield every item of a paginated list, page after page from ``start``, stopping after the last one."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise DashConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size!r}")
        page_number = start
        while True:
            page = self._page(build, page_number, page_size)
            if page is None:
                return
            yield from page.results
            # A short page is the last one. A page_size below 1 (a broken server or proxy) falls back
            # to the size asked for: trusting it would request the same page forever.
            size = page.page_size if page.page_size >= 1 else page_size
            if len(page.results) < size or page_number * size >= page.count:
                return
            page_number += 1

    def _page(self, build: Callable[[int, int], Request], number: int, page_size: int) -> Page | None:
        """One page; ``None`` past the last one (the count may shrink between two pages)."""
        try:
            return Page.from_json(self._json(build(number, page_size)))
        except DashApiError as error:
            # Redash says the page is out of range when the list shrank under us.
            if number > 1 and _errors.is_page_out_of_range(error):
                return None
            raise

    def _pages_concurrently(
        self, build: Callable[[int, int], Request], page_size: int, pool: BoundedPool | None
    ) -> Iterator[Any]:
        """Yield every item of a paginated list like :meth:`_pages`, fetching pages 2.. through ``pool``.

        The first page tells how many pages there are; the others are fetched at most
        :data:`PAGES_AHEAD` ahead of the reader (a page holds up to 250 objects), in order. A list
        that grew meanwhile is read on page by page.
        """
        if pool is None or pool.workers == 1:
            yield from self._pages(build, page_size)
            return
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise DashConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size!r}")
        self.ensure_connections(pool.workers)
        first = self._page(build, 1, page_size)
        assert first is not None  # page 1 is never out of range
        yield from first.results
        if len(first.results) < page_size or page_size >= first.count:
            return
        last_number = -(-first.count // page_size)
        last: Page | None = first
        for last in pool.map_ordered(
            lambda number: self._page(build, number, page_size), range(2, last_number + 1), window=PAGES_AHEAD
        ):
            if last is None:
                return
            yield from last.results
        if last is not None and len(last.results) >= page_size:
            yield from self._pages(build, page_size, start=last_number + 1)

    def ensure_connections(self, count: int) -> None:
        """Keep up to ``count`` connections open for calls made from that many threads at once.

        Call it from one thread before the calls start (the session is made here if needed).
        """
        session = self.get_conn()
        if count <= self._pool_connections:
            return
        from requests.adapters import HTTPAdapter

        # No retries in the adapter: the shared retry policy retries every call.
        adapter = HTTPAdapter(pool_connections=count, pool_maxsize=count, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._pool_connections = count

    def _job_query_id(self, query_id: int | None) -> int | None:
        return query_id if query_id is not None else self.config.query_id

    def _result_query_id(self, query_id: int | None) -> int | None:
        # A query key reads results only through its query; a user key uses /api/query_results/<id>,
        # which also works for results of parameterized runs.
        if self.config.query_id is None:
            return None
        return query_id if query_id is not None else self.config.query_id


class _KeyAuth:
    """``Authorization: Key <key>`` for requests; its ``repr`` never shows the key."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, prepared: Any) -> Any:
        prepared.headers["Authorization"] = f"Key {self._key}"
        return prepared

    def __repr__(self) -> str:
        return "_KeyAuth(<hidden>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _KeyAuth) and other._key == self._key

    __hash__ = None  # type: ignore[assignment]
