"""EndpointRunTrigger: runs a PostHog endpoint in the triggerer, holding each run's request open.

A G3 run is synchronous: there is nothing to poll, so the trigger itself holds the run's HTTP
request until PostHog answers, with one shared client per triggerer and server (no thread per
run; :mod:`airflow_provider_dash.hooks.posthog_async`). It yields one event with a small summary
(never the rows), read by :func:`~airflow_provider_dash.triggers._posthog_events.read_run_event`.

Restarts. A triggerer that dies drops the held request; PostHog computes the run to its end anyway
and caches the result. A triggerer that takes the trigger over runs it again from its kwargs, and:

* when it starts more than :data:`RESUME_AFTER` seconds after the task deferred (a takeover waits
  for the dead triggerer's heartbeat to go stale, 30 s by default), it first cancels the run of the
  earlier attempt (``DELETE /query/{client_query_id}``), so two heavy runs never overlap;
* it asks with ``refresh="cache"`` (``force`` asks the cache first too, and accepts only an answer
  computed after the task started): a run the earlier attempt finished is served from PostHog's
  cache, not computed again. ``direct`` bypasses every cache and is computed again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.hooks._posthog_runs import RunSpec, check_refresh
from airflow_provider_dash.models.posthog import EndpointRun, RunSummary
from airflow_provider_dash.triggers._client import TriggerClientMixin
from airflow_provider_dash.triggers._posthog_events import RunStatus, run_event

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.posthog_async import PostHogAsyncClient

#: A trigger starting this long after its task deferred is taken as a resumed one (see the module docstring).
RESUME_AFTER = 5.0


class EndpointRunTrigger(TriggerClientMixin["PostHogAsyncClient"], BaseTrigger):
    """Run an endpoint (one page, or every page with ``fetch_all``) and report a summary in one event.

    :param endpoint: the endpoint's name.
    :param posthog_conn_id: the Airflow connection.
    :param client_query_id: the run's tag on the server; a timeout or a kill cancels it.
    :param variables: ``{code_name: value}`` (checked by the task before deferring).
    :param version: the version to run (``None``: the current one).
    :param refresh: ``cache``, ``force`` or ``direct``.
    :param limit: rows of the run (one page), ``None``: the server's default.
    :param fetch_all: page through ``hasMore`` in pages of ``page_size``.
    :param page_size: rows per page with ``fetch_all``.
    :param paged: the endpoint can page (a HogQL endpoint on a G3 server).
    :param generation: the server's generation as the task found it (only its keys are sent).
    :param end_time: absolute deadline (epoch seconds); at it the run is cancelled.
    :param deferred_at: when the task deferred (epoch seconds): tells a resumed trigger apart, and
        is the oldest a cached answer may be for ``refresh="force"``.
    """

    def __init__(
        self,
        endpoint: str,
        posthog_conn_id: str = "posthog_default",
        client_query_id: str = "",
        variables: Mapping[str, Any] | None = None,
        version: int | None = None,
        refresh: str = "cache",
        limit: int | None = None,
        fetch_all: bool = False,
        page_size: int = 10_000,
        paged: bool = True,
        generation: str | None = None,
        end_time: float | None = None,
        deferred_at: float | None = None,
    ) -> None:
        super().__init__()
        if not endpoint or not client_query_id:
            raise DashConfigError("EndpointRunTrigger needs an endpoint name and a client_query_id")
        self.endpoint = endpoint
        self.posthog_conn_id = posthog_conn_id
        self.client_query_id = client_query_id
        self.variables = dict(variables or {})
        self.version = version
        self.refresh = check_refresh(refresh)
        self.limit = limit
        self.fetch_all = bool(fetch_all)
        self.page_size = int(page_size)
        self.paged = bool(paged)
        self.generation = generation
        self.end_time = float(end_time) if end_time is not None else None
        self.deferred_at = float(deferred_at) if deferred_at is not None else time.time()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and plain-JSON keyword arguments that rebuild this trigger (never the key)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "endpoint": self.endpoint,
                "posthog_conn_id": self.posthog_conn_id,
                "client_query_id": self.client_query_id,
                "variables": dict(self.variables),
                "version": self.version,
                "refresh": self.refresh,
                "limit": self.limit,
                "fetch_all": self.fetch_all,
                "page_size": self.page_size,
                "paged": self.paged,
                "generation": self.generation,
                "end_time": self.end_time,
                "deferred_at": self.deferred_at,
            },
        )

    def _spec(self) -> RunSpec:
        return RunSpec(
            self.endpoint, self.variables, self.version, self.refresh, self.limit, None, self.client_query_id
        )

    async def _open_client(self) -> PostHogAsyncClient:
        # httpx comes with the client, only in the triggerer: the operator module imports this
        # one lazily, but DAG parsing must never pay for it.
        from airflow_provider_dash.hooks.posthog_async import PostHogAsyncClient

        return await PostHogAsyncClient.from_conn_id(self.posthog_conn_id)

    async def _run_page(self, client: PostHogAsyncClient, spec: RunSpec) -> EndpointRun:
        if spec.refresh == "force":
            # A run an earlier attempt of this trigger finished is in the cache: take it if it was
            # computed after the task deferred (a cache miss computes it now, which is as good).
            cached = await client.run(spec.with_refresh("cache"), self.generation)
            refreshed = cached.last_refresh.timestamp() if cached.last_refresh is not None else None
            if not cached.is_cached or (refreshed is not None and refreshed >= self.deferred_at):
                return cached
        return await client.run(spec, self.generation)

    async def _work(self, summary: RunSummary) -> None:
        client = await self._get_client()
        if time.time() - self.deferred_at > RESUME_AFTER:
            self.log.info(
                "Resumed %.0f s after the task deferred: cancelling any run of query %s left by an earlier attempt",
                time.time() - self.deferred_at,
                self.client_query_id,
            )
            await client.cancel_quietly(self.client_query_id)
        spec = self._spec()
        if not self.fetch_all or not self.paged:
            summary.add(await self._run_page(client, spec))
            return
        offset = 0
        while True:
            run = await self._run_page(client, spec.page(self.page_size, offset or None))
            summary.add(run)
            if not run.has_more or not run.results:
                return
            offset += len(run.results)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Run the endpoint until it answers or the deadline passes, then yield one event."""
        summary = RunSummary(self.endpoint, self.client_query_id, paged=self.paged)
        status: RunStatus = "success"
        error: BaseException | None = None
        message = f"endpoint {self.endpoint!r} answered"
        try:
            left = None if self.end_time is None else max(0.0, self.end_time - time.time())
            await asyncio.wait_for(self._work(summary), left)
        except TimeoutError:
            outcome = await self._cancel()
            status, message = (
                "timeout",
                (
                    f"The run of endpoint {self.endpoint!r} did not finish by its deadline ({summary.pages} page(s) "
                    f"done); cancel of query {self.client_query_id}: {outcome}"
                ),
            )
        except DashError as exc:
            status, error, message = "error", exc, f"The run of endpoint {self.endpoint!r} failed: {exc}"
        except Exception as exc:
            self.log.exception("EndpointRunTrigger failed running %r", self.endpoint)
            status, message = "error", f"The run of endpoint {self.endpoint!r} failed: {type(exc).__name__}: {exc}"
        try:
            yield TriggerEvent(run_event(status, message, summary, error))
        finally:
            # Runners that never call cleanup() (dag.test()'s inline triggers) close the generator
            # after the event; release the HTTP clients then too.
            await self._close_client()

    async def _cancel(self) -> str:
        try:
            client = await self._get_client()
        except DashError as error:
            return f"not sent ({error})"
        return await client.cancel_quietly(self.client_query_id)

    async def on_kill(self) -> None:
        """Cancel the run on the server when a user kills the task (Airflow 3.3+); errors are logged."""
        self.log.info("Task killed: cancelling query %s of endpoint %r", self.client_query_id, self.endpoint)
        await self._cancel()
