"""PostHogAsyncClient: the small async PostHog client the trigger needs (httpx): run (held open), cancel, status.

Routes, error mapping, run bodies and the retry policy are shared with the sync hook; only the
transport differs. Nothing here blocks the event loop: the connection is read with
``BaseHook.aget_connection`` and the TLS context is built in a worker thread.

A G3 run is synchronous: the server holds its request for the whole run. Runs therefore use a
pool and a gate of their own in :mod:`airflow_provider_dash.shared_http` (:data:`MAX_HELD_RUNS`
at once per triggerer and server), so 500 two-second runs of one triggerer run together, not 8
at a time, and a cancel (a short request, on the default pool and gate) never waits behind them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_dash import retry as _retry
from airflow_provider_dash import shared_http
from airflow_provider_dash.connections import aget_connection
from airflow_provider_dash.exceptions import DashError, DashNotFoundError
from airflow_provider_dash.hooks import _posthog_errors as _errors
from airflow_provider_dash.hooks import _posthog_routes as _routes
from airflow_provider_dash.hooks._posthog_config import G1, G3, PostHogConfig, config_from_connection
from airflow_provider_dash.hooks._posthog_routes import Request, endpoint_what
from airflow_provider_dash.hooks._posthog_runs import RunSpec, rejected_as_other_generation, run_body
from airflow_provider_dash.hooks._posthog_transport import checked_answer, judge, known_generation, remember_generation
from airflow_provider_dash.models.posthog import EndpointRun, QueryStatus, parse
from airflow_provider_dash.polling import PollSchedule

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

#: Runs held open at once per event loop and server (their own pool and gate; see the module docstring).
MAX_HELD_RUNS = 1024
HELD_RUNS = "posthog-held-runs"


def _rejected(status: int, content: bytes, *, sent: str) -> bool:
    return rejected_as_other_generation(status, content, sent)


class PostHogAsyncClient:
    """Async runs and cancels over the loop's shared pools for this server (one per triggerer, not per trigger).

    Use ``async with await PostHogAsyncClient.from_conn_id(conn_id) as client:`` or call :meth:`aclose`.

    :param config: the normalised connection (see :func:`~._posthog_config.config_from_connection`).
    """

    def __init__(self, config: PostHogConfig) -> None:
        self.config = config
        self._pools: dict[str, httpx.AsyncClient] = {}

    @classmethod
    async def from_conn_id(cls, conn_id: str) -> PostHogAsyncClient:
        """A client for an Airflow connection, looked up without blocking the event loop.

        :raises DashConfigError: when the connection lacks a host, key or project, or has a bad extra.
        """
        return cls(config_from_connection(await aget_connection(conn_id)))

    def __repr__(self) -> str:
        return f"PostHogAsyncClient(base_url={self.config.base_url!r}, project_id={self.config.project_id})"

    async def _http(self, pool: str) -> httpx.AsyncClient:
        client = self._pools.get(pool)
        if client is None:
            config = self.config
            held = pool == HELD_RUNS
            client = await shared_http.acquire(config.base_url, config.verify, pool, MAX_HELD_RUNS if held else None)
            if pool in self._pools:  # another task of this client got one meanwhile
                await shared_http.release(config.base_url, config.verify, pool)
                return self._pools[pool]
            self._pools[pool] = client
        return client

    async def aclose(self) -> None:
        """Let go of the shared HTTP clients (the last user of each closes it)."""
        pools, self._pools = self._pools, {}
        for pool in pools:
            await shared_http.release(self.config.base_url, self.config.verify, pool)

    async def __aenter__(self) -> PostHogAsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(
        self,
        request: Request,
        *,
        held: bool = False,
        timeout: float | None = None,
        accept: Callable[[int, bytes], bool] | None = None,
        before_retry: Callable[[BaseException], Any] | None = None,
    ) -> tuple[int, Any]:
        """Send ``request`` with the shared retry policy; return the status and the parsed JSON body.

        The first attempt is made directly; only a failure builds the retry machinery (tenacity).

        :param held: a run: the held-runs pool and gate, and ``timeout`` as its read timeout.
        :param accept: an error answer it returns True for is handed back (status, ``None``).
        :param before_retry: awaited with the failure before each retry (a run cancels its lost attempt).
        :raises DashError: the mapped error once retrying is over (or not allowed).
        """
        import httpx

        config = self.config
        pool = HELD_RUNS if held else shared_http.DEFAULT
        http = await self._http(pool)
        url = request.url(config.base_url)
        limit = httpx.Timeout(timeout or config.timeout, connect=config.timeout)
        gate = shared_http.gate(config.base_url, pool, MAX_HELD_RUNS if held else None)

        async def attempt() -> tuple[int, Any, bytes]:
            try:
                async with gate:
                    log.debug("%s %s", request.method, url)
                    response = await http.request(
                        request.method, url, json=request.json, headers=config.headers, timeout=limit
                    )
            except httpx.HTTPError as exc:
                raise _retry.httpx_failure(exc) from None
            content = response.content
            return response.status_code, judge(response.status_code, response.headers, content, True), content

        try:
            status, body, content = await attempt()
        except (_retry.TransportFailure, _retry.RetryableStatus, _retry.MalformedBody) as first_failure:
            import tenacity

            replay: BaseException | None = first_failure

            async def again() -> tuple[int, Any, bytes]:
                nonlocal replay
                if replay is not None:  # the attempt already made, judged by the policy like any other
                    failure, replay = replay, None
                    raise failure
                return await attempt()

            async def before_sleep(state: tenacity.RetryCallState) -> None:
                failure = state.outcome.exception() if state.outcome is not None else None
                log.warning("%s %s for %s: %s; retrying", request.method, url, request.what, failure)
                if before_retry is not None and failure is not None:
                    await before_retry(failure)

            retrying = tenacity.AsyncRetrying(
                **_retry.tenacity_kwargs(request, config.retries), before_sleep=before_sleep
            )
            try:
                status, body, content = await retrying(again)
            except (_retry.TransportFailure, _retry.RetryableStatus, _retry.MalformedBody) as failure:
                raise _errors.final_error(request, failure, config) from None
        return checked_answer(request, status, body, content, config, accept)

    async def run(self, spec: RunSpec, generation: str | None = None) -> EndpointRun:
        """One run of ``spec``, its request held open until the server answers (G1's 202 is followed).

        :param generation: the server's generation when known (else the one detected, else G3 first).
        :raises DashApiError: PostHog refused the run (field and expectation named) or a guardrail stopped it.
        """
        sent = generation or known_generation(self.config) or G3
        what = endpoint_what(spec.endpoint, spec.version)

        async def cancel_lost(failure: BaseException) -> None:
            if getattr(failure, "kind", None) in ("read", "timeout"):
                await self.cancel_quietly(spec.client_query_id)

        for _ in range(2):  # once more if the server said it is the other generation
            request = _routes.RUN_ENDPOINT.request(
                what, self.config.project_id, json=run_body(spec, sent), name=spec.endpoint
            )
            status, data = await self._send(
                request,
                held=True,
                timeout=self.config.run_timeout,
                accept=functools.partial(_rejected, sent=sent),
                before_retry=cancel_lost,
            )
            if data is not None or status < 400:
                if self.config.generation is None:
                    remember_generation(self.config, sent)
                run = parse(EndpointRun, data, what)
                if status == 202 or (run.query_status is not None and not run.query_status.complete):
                    return await self._follow_g1_status(spec, run)
                return run
            sent = G1 if sent == G3 else G3
            remember_generation(self.config, sent)
            log.info("The server rejected the run's keys: sending them again as %s", sent.upper())
        raise DashError(f"PostHog at {self.config.base_url} rejected both generations' keys for {what}")

    async def _follow_g1_status(self, spec: RunSpec, run: EndpointRun) -> EndpointRun:
        # REFERENCE.md §3.2 and §8: a 202 with an incomplete query_status: poll /query/{id} until complete.
        assert run.query_status is not None
        query_id = run.query_status.id or spec.client_query_id
        schedule = PollSchedule(poll_interval=5.0)
        polls = 0
        while True:
            await asyncio.sleep(schedule.delay(polls))
            polls += 1
            try:
                status = await self.get_query_status(query_id)
            except DashNotFoundError:  # as the hook says it
                raise DashError(
                    f"query {query_id} of {endpoint_what(spec.endpoint)} expired or was cancelled"
                ) from None
            if status.complete:
                return parse(EndpointRun, status.results, endpoint_what(spec.endpoint))

    async def get_query_status(self, query_id: str) -> QueryStatus:
        """``GET /query/{id}`` (the async queue's status; G1's 202 path).

        :raises DashNotFoundError: unknown, expired or cancelled.
        :raises DashError: the query completed with an error.
        """
        what = f"query {query_id}"
        request = _routes.QUERY_STATUS.request(what, self.config.project_id, query_id=query_id)
        completed_with_error = _errors.QueryCompletedWithError()
        status, data = await self._send(request, accept=completed_with_error)
        if data is None and status in (400, 500):
            raise completed_with_error.error(what, status)
        return parse(QueryStatus, (data or {}).get("query_status"), what)

    async def cancel_query(self, query_id: str) -> str:
        """``DELETE /query/{id}``: stop the run tagged with this ``client_query_id``.

        :return: PostHog's message (it answers 200 for any id).
        """
        what = f"query {query_id}"
        request = _routes.CANCEL_QUERY.request(what, self.config.project_id, query_id=query_id)
        data = (await self._send(request))[1]
        return str((data or {}).get("message", ""))

    async def cancel_quietly(self, query_id: str) -> str:
        """:meth:`cancel_query`, logging instead of raising. :return: what happened, in words."""
        try:
            message = await self.cancel_query(query_id)
        except (DashError, DashNotFoundError) as error:
            log.warning("Could not cancel query %s: %s; it may still be running on the server", query_id, error)
            return f"failed ({error}); the run may still be going on the server"
        log.info("Cancel of query %s: %s", query_id, message or "sent")
        return message or "sent"
