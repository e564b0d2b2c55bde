"""DashHook: the sync Airflow hook for Redash-compatible servers (requests + tenacity).

Routes, error texts and the retry policy live in :mod:`airflow_provider_dash.hooks._api`, shared with
the async client; this module is the requests transport plus the Redash workflows built on it
(pagination, parameter filling, waiting for a job, streamed downloads, ``test_connection``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_dash.exceptions import (
    DashApiError,
    DashAuthError,
    DashConfigError,
    DashConnectionError,
    DashError,
    DashJobNotFoundError,
    DashNotFoundError,
    DashResponseError,
    DashTimeoutError,
)
from airflow_provider_dash.hooks import _api
from airflow_provider_dash.hooks._api import ConnectionConfig, Request
from airflow_provider_dash.models import Dashboard, Job, Page, Query, QueryResult, QueryRun
from airflow_provider_dash.parameters import resolve_parameters
from airflow_provider_dash.polling import (
    DEFAULT_POLL_INTERVAL,
    PollSchedule,
    check_poll_interval,
    check_timeout,
    deadline_after,
    is_past,
)

if TYPE_CHECKING:
    import requests

#: Redash's largest page size: fewest round trips when listing everything.
MAX_PAGE_SIZE = 250
DOWNLOAD_CHUNK_SIZE = 64 * 1024


def _requests_failure(exc: BaseException) -> _api.TransportFailure:
    """Translate a requests exception into the shared :class:`~._api.TransportFailure`."""
    import requests

    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.exceptions.SSLError) or _api.is_tls_failure(exc):
        return _api.TransportFailure("tls", detail)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _api.TransportFailure("connect", detail)
    if isinstance(exc, requests.exceptions.Timeout):
        return _api.TransportFailure("timeout", detail)
    if isinstance(exc, requests.exceptions.ConnectionError) and _api.is_connect_failure(exc):
        return _api.TransportFailure("connect", detail)
    return _api.TransportFailure("read", detail)


class DashHook(BaseHook):
    """Talk to a Redash-compatible server: queries, jobs, results, dashboards.

    One ``requests.Session`` per hook, created on first use. Every call retries connection errors,
    timeouts, 429 and 5xx with backoff (extra ``retries``, default 5) and raises a
    :class:`~airflow_provider_dash.exceptions.DashError` subclass naming the method, the URL (never
    the key) and what was asked for.

    :param dash_conn_id: the Airflow connection: host = base URL, password = API key, extras
        ``verify``, ``timeout``, ``retries`` and ``query_id`` (for a query API key).
    """

    conn_name_attr = "dash_conn_id"
    default_conn_name = "dash_default"
    conn_type = "dash"
    hook_name = "Dash (Redash)"

    def __init__(self, dash_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dash_conn_id = dash_conn_id
        self._config: ConnectionConfig | None = None
        self._session: requests.Session | None = None
        self._queries: dict[int, Query] = {}
        # Set once Redash refused this key a cancel (a query key): later cancels send nothing.
        self._cancel_refusal: str | None = None

    # ------------------------------------------------------------------ connection and transport

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout for Airflow < 3.3 (newer versions read ``conn-fields`` from provider info)."""
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": "https://redash.example.com (keep an org path: https://app.redash.io/acme)",
                "password": "a user API key, or a query API key (then set extra query_id)",
                "extra": '{"verify": true, "timeout": 30, "retries": 5, "query_id": null}',
            },
        }

    @property
    def config(self) -> ConnectionConfig:
        """The connection's normalised configuration, read once per hook.

        :raises DashConfigError: when the connection lacks a host or key, or has a bad extra.
        """
        if self._config is None:
            self._config = _api.config_from_connection(self.get_connection(self.dash_conn_id))
        return self._config

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session`` (created on first use, reused for every call)."""
        if self._session is None:
            # requests is imported here, not at module top: Airflow imports hooks just to read metadata.
            import requests

            config = self.config
            if config.verify is False:
                self.log.warning(
                    "TLS certificate verification is OFF for connection %r (%s): extra verify is false, so "
                    "anyone on the path can read the API key. Prefer a CA bundle path in verify.",
                    config.conn_id,
                    config.base_url,
                )
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

    def __enter__(self) -> DashHook:
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
            current = request if attempts == 1 else _api.for_retry(request, first_attempt_at)
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
            if _api.is_retryable_status(response.status_code):
                raw = response.content
                response.close()
                raise _api.RetryableStatus(response.status_code, raw, response.headers.get("Retry-After"))
            body = None
            if want_json and response.status_code < 400 and response.content:
                try:
                    body = response.json()
                except ValueError:
                    raise _api.MalformedBody(response.status_code, response.text[:200]) from None
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

        retrying = tenacity.Retrying(**_api.tenacity_kwargs(request, config), before_sleep=before_sleep)
        try:
            response = retrying(attempt)
        except (_api.TransportFailure, _api.RetryableStatus, _api.MalformedBody) as failure:
            raise _api.final_error(request, failure, config) from None
        # Read the body only for an error: a streamed download must not be loaded into memory here.
        error_body = response.content if response.status_code >= 400 else b""
        error = _api.error_for_response(request, response.status_code, error_body, config.base_url)
        if error is not None:
            response.close()
            raise error
        return response, body

    def _json(self, request: Request, config: ConnectionConfig | None = None) -> Any:
        """Send ``request`` and return its JSON body (``None`` for an empty body).

        :raises DashResponseError: when every answer's body was not JSON.
        """
        return self._exchange(request, config, want_json=True)[1]

    def _pages(self, build: Callable[[int, int], Request], page_size: int) -> Iterator[Any]:
        """Yield every item of a paginated list, page after page, stopping after the last one."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise DashConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size!r}")
        page_number = 1
        while True:
            try:
                page = Page.from_json(self._json(build(page_number, page_size)))
            except DashApiError as error:
                # The count may shrink between two pages; Redash then says the page is out of range.
                if page_number > 1 and _api.is_page_out_of_range(error):
                    return
                raise
            yield from page.results
            # A short page is the last one. A page_size below 1 (a broken server or proxy) falls back
            # to the size asked for: trusting it would request the same page forever.
            size = page.page_size if page.page_size >= 1 else page_size
            if len(page.results) < size or page_number * size >= page.count:
                return
            page_number += 1

    def _job_query_id(self, query_id: int | None) -> int | None:
        return query_id if query_id is not None else self.config.query_id

    def _result_query_id(self, query_id: int | None) -> int | None:
        # A query key reads results only through its query; a user key uses /api/query_results/<id>,
        # which also works for results of parameterized runs.
        if self.config.query_id is None:
            return None
        return query_id if query_id is not None else self.config.query_id

    # ------------------------------------------------------------------ queries

    def list_queries(
        self,
        *,
        search: str | None = None,
        tags: list[str] | None = None,
        archived: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[Query]:
        """Every saved query (all pages), optionally filtered.

        :param search: text search (Redash's ``q``).
        :param tags: only queries with these tags.
        :param archived: list archived queries instead.
        :return: the queries, in the server's order.
        :raises DashError: when a page cannot be fetched.
        """
        return [
            Query.from_json(item)
            for item in self._pages(
                lambda page, size: _api.list_queries_request(page, size, search=search, tags=tags, archived=archived),
                page_size,
            )
        ]

    def get_query(self, query_id: int) -> Query:
        """One saved query with its parameter definitions (cached for the life of this hook).

        :raises DashNotFoundError: when the query does not exist.
        :raises DashAuthError: when the key cannot read it.
        """
        cached = self._queries.get(int(query_id))
        if cached is not None:
            return cached
        query = Query.from_json(self._json(_api.get_query_request(query_id)))
        self._queries[query.id] = query
        return query

    def create_query(
        self,
        *,
        name: str,
        query: str,
        data_source_id: int,
        description: str | None = None,
        options: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Query:
        """Create a saved query (Redash creates it as a draft).

        :return: the new query.
        :raises DashApiError: when the server refuses it.
        """
        body: dict[str, Any] = {"name": name, "query": query, "data_source_id": data_source_id}
        if description is not None:
            body["description"] = description
        if options is not None:
            body["options"] = dict(options)
        if tags is not None:
            body["tags"] = list(tags)
        created = Query.from_json(self._json(_api.create_query_request(body)))
        self.log.info("Created query %s %r", created.id, created.name)
        return created

    def edit_query(self, query_id: int, **changes: Any) -> Query:
        """Change fields of a saved query (``name``, ``query``, ``options``, ``is_draft``, ``version``...).

        :return: the query as saved.
        :raises DashApiError: 409 when ``version`` is stale.
        """
        self._queries.pop(int(query_id), None)
        edited = Query.from_json(self._json(_api.edit_query_request(query_id, changes)))
        self._queries[edited.id] = edited
        return edited

    def archive_query(self, query_id: int) -> None:
        """Archive (Redash's DELETE) a saved query. Archiving twice is harmless.

        :raises DashNotFoundError: when the query does not exist.
        """
        self._queries.pop(int(query_id), None)
        self._send(_api.archive_query_request(query_id)).close()
        self.log.info("Archived query %s", query_id)

    def get_latest_query_result(self, query_id: int) -> QueryResult:
        """The latest cached result of a query run without parameters.

        :raises DashNotFoundError: when there is none ("No cached result found for this query.").
        """
        return QueryResult.from_json(self._json(_api.latest_result_request(query_id)))

    def execute_query(
        self,
        query_id: int,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int | None = 0,
        check_parameters: bool = True,
    ) -> QueryRun:
        """Execute a saved query: a cached result when one is fresh enough, else a job to wait on.

        Parameters not given are filled from the query's saved defaults (dynamic dates included) and
        every value is checked first (Redash applies no defaults). Pass complete ``parameters`` with
        ``check_parameters=False`` to skip fetching the query.

        :param max_age: reuse a cached result up to this many seconds old (0: always run; ``None``
            or -1: any cached result).
        :return: :class:`QueryRun` with ``result`` or ``job``.
        :raises DashParameterError: when a value does not fit its definition.
        :raises DashConfigError: when the query is archived (checked when the query is fetched).
        :raises DashError: when the server refuses.
        """
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < -1):
            raise DashConfigError(f"max_age must be a whole number of seconds >= -1 or None, got {max_age!r}")
        if check_parameters or parameters is None:
            query = self.get_query(query_id)
            if query.is_archived:
                # Redash still runs an archived query, but archiving is how a query is retired: a
                # pipeline that keeps refreshing one is almost always a mistake nobody noticed.
                raise DashConfigError(
                    f"Query {query.id} {query.name!r} is archived on {self.config.base_url}: expected an active "
                    "query. Restore it in Redash (or point the task at the query that replaced it)."
                )
            values: Mapping[str, Any] | None = resolve_parameters(query, parameters)
        else:
            values = parameters
        self.log.info("Executing query %s (max_age=%s)", query_id, max_age)
        return self._execute(_api.execute_query_request(query_id, values, max_age), f"query {query_id}")

    def _execute(self, request: Request, what: str) -> QueryRun:
        """Send an execution; judge a job in the answer as shared or not (:func:`~._api.job_is_shared`)."""
        response, body = self._exchange(request, want_json=True)
        run = QueryRun.from_json(body)
        if run.job is not None and run.query_result_id is None:
            shared = _api.job_is_shared(run.job, response.headers.get("Date"), response.elapsed.total_seconds())
            run = run.model_copy(update={"shared": shared})
        self._log_run(what, run)
        return run

    def execute_sql(self, sql: str, data_source_id: int, *, max_age: int | None = 0) -> QueryRun:
        """Execute ad-hoc SQL on a data source (``POST /api/query_results``).

        :return: :class:`QueryRun` with ``result`` or ``job``.
        :raises DashError: when the server refuses.
        """
        self.log.info("Executing ad-hoc SQL on data source %s (max_age=%s)", data_source_id, max_age)
        return self._execute(
            _api.execute_sql_request(sql, data_source_id, max_age), f"ad-hoc SQL on data source {data_source_id}"
        )

    def refresh_query(self, query_id: int, parameters: Mapping[str, Any] | None = None) -> Job:
        """Execute through the legacy ``POST /api/queries/<id>/refresh`` (always runs).

        Redash does not check ``p_`` values on this route, so they are filled and checked here.

        :return: the job.
        """
        values = resolve_parameters(self.get_query(query_id), parameters)
        flat: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, Mapping):
                flat.update({f"{name}.{part}": item for part, item in value.items()})
            else:
                flat[name] = value
        self.log.info("Refreshing query %s (legacy route)", query_id)
        job = Job.from_json(self._json(_api.refresh_query_request(query_id, flat)))
        self.log.info("Query %s: job %s", query_id, job.id)
        return job

    def _log_run(self, what: str, run: QueryRun) -> None:
        if run.result is not None:
            self.log.info("%s: cached result %s", what, run.result.id)
        elif run.job is not None:
            self.log.info("%s: job %s (status %s)", what, run.job.id, run.job.status.name)

    # ------------------------------------------------------------------ jobs

    def get_job(self, job_id: str, query_id: int | None = None) -> Job:
        """A job's current state.

        :param query_id: the job's query when known: the query-scoped route is used (the only one a
            query key may read). Defaults to the connection's extra ``query_id``.
        :raises DashJobNotFoundError: when the job id is unknown or expired.
        """
        return Job.from_json(self._json(_api.get_job_request(job_id, self._job_query_id(query_id))))

    def cancel_job(self, job_id: str, query_id: int | None = None) -> _api.CancelOutcome:
        """Cancel a queued or running job, then read it back and say what happened.

        Redash cancels only through ``DELETE /api/jobs/<id>`` and only with a user key (it then
        reports the job failed with "Query cancelled by user."). A connection holding a query key
        (extra ``query_id``) sends nothing: it cannot cancel. A DELETE answered 500 is not retried
        (Redash answers so for a job that already ended); the job read back tells what it is.
        The outcome is logged once: info when cancelled, a warning otherwise.

        :param query_id: the job's query (reads the job back through it; defaults to extra ``query_id``).
        :return: the :class:`~._api.CancelOutcome` (cancelled, ended meanwhile, still running, refused).
        :raises DashJobNotFoundError: when the server knows no such job (unknown or expired).
        :raises DashError: when the server cannot be reached.
        """
        qid = self._job_query_id(query_id)
        why = self._cancel_refusal or _api.declared_query_key_refusal(self.config)
        accepted = False
        if why is None:
            self.log.info("Cancelling %s", _api.job_what(job_id, qid))
            try:
                self._send(_api.cancel_job_request(job_id)).close()
                accepted = True
            except DashAuthError as error:
                why = self._cancel_refusal = _api.auth_refusal(error)
            except DashJobNotFoundError:
                accepted = False  # ended, already cancelled, or unknown: the read-back tells
        if why is not None:
            outcome = _api.refused_cancel(job_id, qid, why)
        else:
            outcome = self._read_back_cancel(job_id, qid, accepted)
        (self.log.info if outcome.cancelled else self.log.warning)("%s", outcome.message)
        return outcome

    def _read_back_cancel(self, job_id: str, query_id: int | None, accepted: bool) -> _api.CancelOutcome:
        # One retry at most: after a DELETE answered 500, an unknown job answers 500 here too.
        config = dataclasses.replace(self.config, retries=min(self.config.retries, 1))
        schedule = PollSchedule(poll_interval=1.0)
        deadline = deadline_after(_api.CANCEL_CONFIRM_SECONDS)
        polls = 0
        while True:
            job = Job.from_json(self._json(_api.get_job_request(job_id, query_id), config))
            if not _api.wants_read_back(job, accepted) or is_past(deadline):
                return _api.cancel_outcome(job_id, query_id, job, accepted)
            time.sleep(schedule.next_delay(polls, deadline))
            polls += 1

    def wait_for_job(
        self,
        job_id: str,
        *,
        query_id: int | None = None,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        cancel_on_timeout: bool = True,
    ) -> Job:
        """Poll a job until it finishes (the shared :class:`PollSchedule`, absolute deadline).

        :param timeout: seconds to wait at most (``None``: no limit).
        :param poll_interval: the longest pause between two polls.
        :param cancel_on_timeout: cancel the job when the deadline passes.
        :return: the finished job (with ``query_result_id``).
        :raises DashJobFailedError: when the job failed.
        :raises DashJobCancelledError: when it was cancelled.
        :raises DashTimeoutError: on the deadline, naming the job, the query and the seconds waited.
        """
        schedule = PollSchedule(poll_interval=check_poll_interval(poll_interval))
        timeout = check_timeout(timeout)
        started = time.time()
        deadline = deadline_after(timeout, started)
        polls = 0
        while True:
            job = self.get_job(job_id, query_id)
            if job.is_terminal:
                _api.raise_for_job(job, query_id)
                self.log.info("Job %s finished: query result %s", job.id, job.query_result_id)
                return job
            if is_past(deadline):
                waited = time.time() - started
                of_query = f" of query {query_id}" if query_id is not None else ""
                outcome = "left running"
                if cancel_on_timeout:
                    outcome = self.cancel_summary(job_id, query_id)
                raise DashTimeoutError(
                    f"Job {job_id}{of_query} did not finish within {timeout:g} s "
                    f"(waited {waited:.1f} s, last status {job.status.name}); the job was {outcome}"
                )
            time.sleep(schedule.next_delay(polls, deadline))
            polls += 1

    def cancel_summary(self, job_id: str, query_id: int | None = None) -> str:
        """Cancel a job and complete the sentence "the job was ..." for a failure text; never raises.

        :return: ``"cancelled"``, or why not, ending with "it may still be running on the server"
            when that may be so.
        """
        try:
            return self.cancel_job(job_id, query_id).summary
        except DashError as error:
            self.log.warning("Could not cancel %s: %s", _api.job_what(job_id, query_id), error)
            return f"not cancelled ({error}); it may still be running on the server"

    def run_query(
        self,
        query_id: int,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int | None = 0,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> int:
        """Execute a saved query and wait for it: :meth:`execute_query` then :meth:`wait_for_job`.

        :return: the query result id.
        :raises DashError: as those two methods do.
        """
        run = self.execute_query(query_id, parameters, max_age=max_age)
        if run.job is None or run.query_result_id is not None:
            assert run.query_result_id is not None
            return run.query_result_id
        job = self.wait_for_job(run.job.id, query_id=query_id, timeout=timeout, poll_interval=poll_interval)
        assert job.query_result_id is not None
        return job.query_result_id

    # ------------------------------------------------------------------ results

    def get_query_result(self, result_id: int, query_id: int | None = None) -> QueryResult:
        """A stored result with its rows.

        :param query_id: the result's query; needed with a query key (defaults to extra ``query_id``).
        :raises DashNotFoundError: when the result does not exist.
        """
        request = _api.query_result_request(result_id, self._result_query_id(query_id))
        return QueryResult.from_json(self._json(request))

    @contextlib.contextmanager
    def open_query_result_stream(
        self,
        result_id: int,
        *,
        file_format: str = "csv",
        query_id: int | None = None,
        chunk_size: int = DOWNLOAD_CHUNK_SIZE,
    ) -> Iterator[Iterator[bytes]]:
        """Open a stored result as a file (``csv``, ``json``, ``tsv`` or ``xlsx``) and yield its byte chunks.

        A context manager: the request is sent (with the usual retries) on entry, the response is
        closed on exit. Nothing is held in memory beyond one chunk::

            with hook.open_query_result_stream(result_id, file_format="csv") as chunks:
                for chunk in chunks:
                    out.write(chunk)

        :param query_id: the result's query; needed with a query key (defaults to extra ``query_id``).
        :param chunk_size: the largest chunk to yield, in bytes.
        :return: a context manager yielding an iterator of ``bytes`` chunks.
        :raises DashConfigError: for another format (the message lists the allowed ones).
        :raises DashNotFoundError: when the result does not exist.
        :raises DashConnectionError: while iterating, when the connection breaks mid-download.
        """
        request = _api.download_request(result_id, file_format, self._result_query_id(query_id))
        self.log.info("Downloading query result %s as %s", result_id, request.path.rsplit(".", 1)[-1])
        response = self._send(request)
        try:
            yield self._chunks(request, response, chunk_size)
        finally:
            response.close()

    def _chunks(self, request: Request, response: requests.Response, chunk_size: int) -> Iterator[bytes]:
        import requests

        received = 0
        try:
            for chunk in response.iter_content(chunk_size=chunk_size):
                received += len(chunk)
                yield chunk
        except requests.exceptions.RequestException as exc:
            failure = _requests_failure(exc)
            raise DashConnectionError(
                f"The download of {request.what} from {self.config.base_url} broke after {received} bytes: "
                f"{failure.detail}",
                method=request.method,
                url=request.url(self.config.base_url),
            ) from None

    def download_query_result(
        self,
        result_id: int,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        file_format: str = "csv",
        query_id: int | None = None,
    ) -> int:
        """Stream a stored result as a file: ``csv``, ``json``, ``tsv`` or ``xlsx``.

        A path is written atomically (a temporary file in the same directory, then ``os.replace``),
        so readers never see half a file. A binary file object is written as the bytes arrive.

        :param target: a path, or a file object opened in binary mode.
        :param query_id: the result's query; needed with a query key (defaults to extra ``query_id``).
        :return: the number of bytes written.
        :raises DashConfigError: for another format (the message lists the allowed ones).
        :raises DashConnectionError: when the connection breaks during the download.
        """
        if isinstance(target, (str, os.PathLike)):
            path = os.fspath(target)
            directory = os.path.dirname(os.path.abspath(path))
            fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    written = self._stream_to(result_id, file_format, query_id, tmp)
                os.replace(tmp_path, path)
            except BaseException:
                os.unlink(tmp_path)
                raise
            return written
        return self._stream_to(result_id, file_format, query_id, target)

    def _stream_to(self, result_id: int, file_format: str, query_id: int | None, out: IO[bytes]) -> int:
        written = 0
        with self.open_query_result_stream(result_id, file_format=file_format, query_id=query_id) as chunks:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        return written

    # ------------------------------------------------------------------ dashboards

    def list_dashboards(
        self, *, search: str | None = None, tags: list[str] | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> list[Dashboard]:
        """Every dashboard (all pages; drafts included, archived not). Widgets are not included.

        :raises DashError: when a page cannot be fetched.
        """
        return [
            Dashboard.from_json(item)
            for item in self._pages(
                lambda page, size: _api.list_dashboards_request(page, size, search=search, tags=tags), page_size
            )
        ]

    def get_dashboard(self, dashboard: int | str) -> Dashboard:
        """One dashboard with its widgets, by numeric id (int or digits) or by slug.

        :raises DashNotFoundError: when it does not exist.
        """
        return Dashboard.from_json(self._json(_api.get_dashboard_request(dashboard)))

    def create_dashboard(self, name: str) -> Dashboard:
        """Create a dashboard (Redash creates it as a draft).

        :raises DashApiError: when the server refuses it.
        """
        created = Dashboard.from_json(self._json(_api.create_dashboard_request(name)))
        self.log.info("Created dashboard %s %r", created.id, created.name)
        return created

    def edit_dashboard(self, dashboard_id: int, **changes: Any) -> Dashboard:
        """Change fields of a dashboard (``name``, ``tags``, ``is_draft``, ``version``...).

        :return: the dashboard as saved (its slug follows a rename).
        :raises DashApiError: 409 when ``version`` is stale.
        """
        return Dashboard.from_json(self._json(_api.edit_dashboard_request(dashboard_id, changes)))

    def archive_dashboard(self, dashboard_id: int) -> Dashboard:
        """Archive (Redash's DELETE) a dashboard.

        :return: the archived dashboard.
        """
        archived = Dashboard.from_json(self._json(_api.archive_dashboard_request(dashboard_id)))
        self.log.info("Archived dashboard %s", dashboard_id)
        return archived

    # ------------------------------------------------------------------ server

    def get_session(self) -> dict[str, Any]:
        """``/api/session``: the key's user and ``client_config`` (``version``). User keys only.

        :raises DashAuthError: for a wrong key or a query key.
        """
        body = self._json(_api.session_request())
        if not isinstance(body, dict):
            raise DashResponseError(f"/api/session answered {type(body).__name__}, not a JSON object")
        return body

    def list_data_sources(self) -> list[dict[str, Any]]:
        """Every data source (``id``, ``name``, ``type``...), as the server sends them."""
        body = self._json(_api.list_data_sources_request())
        if not isinstance(body, list):
            raise DashResponseError(f"/api/data_sources answered {type(body).__name__}, not a list")
        return body

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection for Airflow's "Test" button, without retries (a UI should answer fast).

        :return: ``(ok, message)``: the message tells apart an unreachable server, a TLS failure, a
            rejected key, a working user key (user and server version) and a working query key.
        """
        try:
            config = dataclasses.replace(self.config, retries=0)
        except DashError as error:
            return False, str(error)
        base = config.base_url
        try:
            if config.query_id is not None:
                query = Query.from_json(self._json(_api.get_query_request(config.query_id), config))
                return True, (
                    f"Query API key works on {base}: it can read query {query.id} {query.name!r}. "
                    "It cannot cancel jobs (Redash lets only user keys cancel), so a timeout or kill leaves the "
                    "job running on the server; use a user API key to have them cancelled"
                )
            session = self._json(_api.session_request(), config)
        except DashAuthError:
            if config.query_id is not None:
                return False, (
                    f"{base} rejected the API key for query {config.query_id} (HTTP 404 Couldn't find resource): "
                    "the key is wrong or belongs to another query"
                )
            return False, (
                f"{base} rejected the API key (HTTP 404 Couldn't find resource): the key is wrong, "
                "or is a query API key — set extra query_id to check it"
            )
        except DashConnectionError as error:
            if "TLS verification failed" in str(error):
                return False, str(error)
            return False, f"Cannot reach {base}: {error}"
        except DashNotFoundError as error:
            return False, f"{base} does not look like a Redash server: {error}"
        except DashError as error:
            return False, str(error)
        user = session.get("user") if isinstance(session, dict) else None
        client_config = session.get("client_config") if isinstance(session, dict) else None
        name = user.get("name") or user.get("email") if isinstance(user, dict) else None
        version = client_config.get("version") if isinstance(client_config, dict) else None
        return True, f"Connected to {base} as {name or 'an unnamed user'} (server version {version or 'unknown'})"


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
