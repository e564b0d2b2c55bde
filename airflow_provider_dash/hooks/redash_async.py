"""DashAsyncClient: the small async Redash client the triggers need (httpx): get_job, cancel_job, get_query.

Routes, error mapping, the retry predicate and waits are shared with the sync hook;
only the transport differs. Nothing here blocks the event loop: the connection is read
with ``BaseHook.aget_connection`` and the TLS context is built in a worker thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_dash import retry as _retry
from airflow_provider_dash import shared_http
from airflow_provider_dash.connections import aget_connection, warn_if_verification_off
from airflow_provider_dash.exceptions import DashAuthError, DashJobNotFoundError
from airflow_provider_dash.hooks import _redash_cancel as _cancel
from airflow_provider_dash.hooks import _redash_errors as _errors
from airflow_provider_dash.hooks import _redash_routes as _routes
from airflow_provider_dash.hooks._redash_config import ConnectionConfig, config_from_connection
from airflow_provider_dash.hooks._redash_routes import Request
from airflow_provider_dash.models.redash import Job, Query
from airflow_provider_dash.polling import PollSchedule, deadline_after, is_past
from airflow_provider_dash.shared_http import MAX_CONCURRENT_REQUESTS  # noqa: F401 - re-exported

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

#: Prepared GET requests kept per client (one per job polled; a trigger waits on a few).
_PREPARED_MAX = 64


class DashAsyncClient:
    """Async access to job state for triggers, over the loop's shared pool for this server
    (:mod:`airflow_provider_dash.shared_http`): one pool per triggerer and server, not one per trigger.

    Use ``async with await DashAsyncClient.from_conn_id(conn_id) as client:`` or call
    :meth:`aclose` when done.

    :param config: the normalised connection (see :func:`~._redash_config.config_from_connection`).
    """

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._client: httpx.AsyncClient | None = None
        # Built for the current httpx client and dropped with it.
        self._prepared: dict[str, httpx.Request] = {}
        # Set once Redash refused this key a cancel (a query key): later cancels send nothing.
        self._cancel_refusal: str | None = None

    @classmethod
    async def from_conn_id(cls, conn_id: str) -> DashAsyncClient:
        """A client for an Airflow connection, looked up without blocking the event loop.

        :raises DashConfigError: when the connection lacks a host or key, or has a bad extra.
        """
        return cls(config_from_connection(await aget_connection(conn_id)))

    def __repr__(self) -> str:
        return f"DashAsyncClient(base_url={self.config.base_url!r})"

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            config = self.config
            warn_if_verification_off(log, config)
            client = await shared_http.acquire(config.base_url, config.verify)
            if self._client is None:
                self._client = client
            else:
                await shared_http.release(config.base_url, config.verify)
        return self._client

    async def aclose(self) -> None:
        """Let go of the shared HTTP client (the last user closes it; a new one is taken if used again)."""
        if self._client is not None:
            self._client = None
            self._prepared.clear()
            await shared_http.release(self.config.base_url, self.config.verify)

    async def __aenter__(self) -> DashAsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _attempt(self, http: httpx.AsyncClient, request: Request, want_json: bool) -> tuple[httpx.Response, Any]:
        """Send ``request`` once; raise what the retry policy judges, else return the answer and its JSON.

        A GET without parameters or body (a job poll) is built once and sent again on every call:
        httpx would otherwise parse the URL and merge the headers again on every poll.
        """
        import httpx

        prepared: httpx.Request | None = None
        if request.method == "GET" and request.json is None and not request.params:
            prepared = self._prepared.get(request.path)
            if prepared is None:
                if len(self._prepared) >= _PREPARED_MAX:
                    self._prepared.pop(next(iter(self._prepared)))
                prepared = http.build_request(
                    "GET", request.url(self.config.base_url), headers=self.config.headers, timeout=self.config.timeout
                )
                self._prepared[request.path] = prepared
        try:
            async with shared_http.gate(self.config.base_url):
                if prepared is not None:
                    log.debug("GET %s", prepared.url)
                    response = await http.send(prepared)
                else:
                    url = request.url(self.config.base_url)
                    log.debug("%s %s", request.method, url)
                    response = await http.request(
                        request.method, url, json=request.json, headers=self.config.headers, timeout=self.config.timeout
                    )
        except httpx.HTTPError as exc:
            raise _retry.httpx_failure(exc) from None
        if _retry.is_retryable_status(response.status_code):
            raise _retry.RetryableStatus(response.status_code, response.content, response.headers.get("Retry-After"))
        body: Any = None
        if want_json and response.status_code < 400:
            try:
                body = json.loads(response.content)
            except ValueError:
                raise _retry.MalformedBody(response.status_code, response.text[:200]) from None
        return response, body

    async def _send(
        self, request: Request, *, want_json: bool = False, config: ConnectionConfig | None = None
    ) -> tuple[httpx.Response, Any]:
        """Send ``request`` with the shared retry policy; return a successful response and its JSON.

        The first attempt is made directly; only a failure enters the retry loop (tenacity, with
        the policy of :mod:`airflow_provider_dash.retry`), which judges that failure as its own first attempt. A poll
        that succeeds, the usual case, never builds the retry machinery.

        :param want_json: parse the body (returned second, else ``None``); retry a success whose
            body is not JSON, like a lost answer.
        :param config: overrides the client's configuration (its ``retries``) for this request.
        :raises DashError: the mapped error once retrying is over (or not allowed).
        """
        config = config or self.config
        http = await self._http()
        try:
            response, body = await self._attempt(http, request, want_json)
        except (_retry.TransportFailure, _retry.RetryableStatus, _retry.MalformedBody) as first_failure:
            import tenacity

            replay: BaseException | None = first_failure

            async def attempt() -> tuple[httpx.Response, Any]:
                nonlocal replay
                if replay is not None:  # the attempt already made, judged by the policy like any other
                    failure, replay = replay, None
                    raise failure
                return await self._attempt(http, request, want_json)

            retrying = tenacity.AsyncRetrying(**_retry.tenacity_kwargs(request, config.retries))
            try:
                response, body = await retrying(attempt)
            except (_retry.TransportFailure, _retry.RetryableStatus, _retry.MalformedBody) as failure:
                raise _errors.final_error(request, failure, config) from None
        error = _errors.error_for_response(request, response.status_code, response.content, config.base_url)
        if error is not None:
            raise error
        return response, body

    async def get_query(self, query_id: int) -> Query:
        """A saved query as it is now (``latest_query_data_id`` moves on every refresh without parameters).

        :raises DashNotFoundError: when the query does not exist.
        :raises DashAuthError: when the key cannot read it.
        """
        _, body = await self._send(_routes.get_query_request(query_id), want_json=True)
        return Query.from_json(body)

    async def get_job(self, job_id: str, query_id: int | None = None) -> Job:
        """A job's current state (query-scoped route when the query id is known).

        :param query_id: the job's query; defaults to the connection's extra ``query_id``.
        :raises DashJobNotFoundError: when the job id is unknown or expired.
        """
        qid = query_id if query_id is not None else self.config.query_id
        _, body = await self._send(_routes.get_job_request(job_id, qid), want_json=True)
        return Job.from_json(body)

    async def cancel_job(self, job_id: str, query_id: int | None = None) -> _cancel.CancelOutcome:
        """Cancel a queued or running job, then read it back (as :meth:`DashHook.cancel_job
        <airflow_provider_dash.hooks.redash.DashHook.cancel_job>` does): ``DELETE /api/jobs/<id>``, user
        keys only, a 500 not retried, the outcome logged once.

        :param query_id: the job's query; defaults to the connection's extra ``query_id``.
        :return: the :class:`~._redash_cancel.CancelOutcome`.
        :raises DashJobNotFoundError: when the server knows no such job.
        :raises DashError: when the server cannot be reached.
        """
        qid = query_id if query_id is not None else self.config.query_id
        why = self._cancel_refusal or _cancel.declared_query_key_refusal(self.config)
        accepted = False
        if why is None:
            log.info("Cancelling %s", _routes.job_what(job_id, qid))
            try:
                await self._send(_routes.cancel_job_request(job_id))
                accepted = True
            except DashAuthError as error:
                why = self._cancel_refusal = _cancel.auth_refusal(error)
            except DashJobNotFoundError:
                accepted = False  # ended, already cancelled, or unknown: the read-back tells
        if why is not None:
            outcome = _cancel.refused_cancel(job_id, qid, why)
        else:
            outcome = await self._read_back_cancel(job_id, qid, accepted)
        (log.info if outcome.cancelled else log.warning)("%s", outcome.message)
        return outcome

    async def _read_back_cancel(self, job_id: str, query_id: int | None, accepted: bool) -> _cancel.CancelOutcome:
        # One retry at most: after a DELETE answered 500, an unknown job answers 500 here too.
        config = dataclasses.replace(self.config, retries=min(self.config.retries, 1))
        schedule = PollSchedule(poll_interval=1.0)
        deadline = deadline_after(_cancel.CANCEL_CONFIRM_SECONDS)
        polls = 0
        while True:
            _, body = await self._send(_routes.get_job_request(job_id, query_id), want_json=True, config=config)
            job = Job.from_json(body)
            if not _cancel.wants_read_back(job, accepted) or is_past(deadline):
                return _cancel.cancel_outcome(job_id, query_id, job, accepted)
            await asyncio.sleep(schedule.next_delay(polls, deadline))
            polls += 1
