"""PostHogHook: every route of PostHog's Endpoints API (both generations), typed, with runs, pages and cancels.

Knows routes, not Airflow tasks. List (paginated), retrieve (``?version=``), create, update (new
versions), delete, run, versions, last execution times, and query status / cancel through
``/query/{id}`` (REFERENCE.md §2). A run sends one generation's keys only: the connection's, the one
detected earlier, or G3 first and G1 once the server's 400 says it is G1 (§0).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_dash.exceptions import DashError, DashNotFoundError, DashTimeoutError
from airflow_provider_dash.hooks import _posthog_errors as _errors
from airflow_provider_dash.hooks import _posthog_routes as _routes
from airflow_provider_dash.hooks._posthog_config import G1, G3
from airflow_provider_dash.hooks._posthog_routes import endpoint_what
from airflow_provider_dash.hooks._posthog_runs import (
    RunSpec,
    as_variables,
    check_refresh,
    check_variables,
    generation_of_list,
    new_client_query_id,
    rejected_as_other_generation,
    run_body,
)
from airflow_provider_dash.hooks._posthog_transport import PostHogTransport, remember_generation
from airflow_provider_dash.models.posthog import (
    Endpoint,
    EndpointResult,
    EndpointRun,
    EndpointVersion,
    ListPage,
    QueryStatus,
    last_execution_times,
    parse,
)
from airflow_provider_dash.polling import PollSchedule, deadline_after, is_past

#: Rows per page when every row is fetched (PostHog allows up to 50,000 with an explicit limit).
DEFAULT_PAGE_SIZE = 10_000
LIST_PAGE_SIZE = 100


def hogql(sql: str) -> dict[str, Any]:
    """A ``HogQLQuery`` object for ``sql`` (variables, when any, are added by the caller)."""
    return {"kind": "HogQLQuery", "query": sql}


def endpoint_ui_url(base_url: str, project_id: int, name: str) -> str:
    """The endpoint's page in PostHog's UI (G3 sends it as ``ui_url``; G1 does not)."""
    return f"{base_url}/project/{int(project_id)}/endpoints/{name}"


def _rejected(status: int, content: bytes, *, sent: str) -> bool:
    return rejected_as_other_generation(status, content, sent)


class PostHogHook(PostHogTransport):
    """Hook for PostHog Endpoints (connection type ``posthog``, default id ``posthog_default``).

    Usage::

        hook = PostHogHook("posthog_default")
        run = hook.run_endpoint("daily_signups", {"country": "DE"})
        print(run.columns, run.row_count, run.is_cached)
    """

    # ------------------------------------------------------------------ generation

    def _learn(self, generation: str | None) -> None:
        if generation is not None and self.config.generation is None and self.generation != generation:
            self.log.info("PostHog at %s speaks the %s Endpoints API", self.config.base_url, generation.upper())
            remember_generation(self.config, generation)

    def detect_generation(self) -> str:
        """The server's generation, asked once per process and connection (a list answer tells it).

        :return: ``"g3"`` or ``"g1"``.
        """
        if self.generation is None and self.config.is_secret_key:
            self._learn(G3)  # project secret keys exist on G3 servers only, and may not list endpoints
        if self.generation is None:
            request = _routes.LIST_ENDPOINTS.request("the endpoint list", self.config.project_id, params={"limit": 1})
            self._learn(generation_of_list(self._exchange(request)[1]) or G3)
        assert self.generation is not None
        return self.generation

    # ------------------------------------------------------------------ endpoints

    def list_endpoints(self, *, is_active: bool | None = None, page_size: int = LIST_PAGE_SIZE) -> Iterator[Endpoint]:
        """Every live endpoint, page after page (G3), or the one unpaged list (G1).

        :param is_active: only active (True) or inactive (False) endpoints.
        """
        pid = self.config.project_id
        offset = 0
        active = None if is_active is None else str(is_active).lower()
        while True:
            params = {"limit": page_size, "offset": offset, "is_active": active}
            request = _routes.LIST_ENDPOINTS.request("the endpoint list", pid, params=params)
            data = self._exchange(request)[1]
            self._learn(generation_of_list(data))
            page = parse(ListPage, data, "the endpoint list")
            for item in page.results:
                yield parse(Endpoint, item, "an endpoint of the list")
            if page.count is None or not page.next or not page.results:
                return
            offset += len(page.results)

    def get_endpoint(self, name: str, version: int | None = None) -> Endpoint:
        """One endpoint, or (with ``version``) the endpoint seen through that version.

        :raises DashNotFoundError: unknown or deleted endpoint, or unknown version.
        """
        pid = self.config.project_id
        what = endpoint_what(name, version)
        if version is not None and self.generation == G1:
            endpoint = self.get_endpoint(name)
            chosen = self.get_version(name, version)
            return endpoint.model_copy(update={"query": chosen.query, "version": chosen.version})
        params = {"version": version} if version is not None else None
        data = self._exchange(_routes.GET_ENDPOINT.request(what, pid, params=params, name=name))[1]
        endpoint = parse(Endpoint, data, what)
        self._learn(endpoint.generation)
        if version is not None and endpoint.version is None:  # a G1 server ignores ?version=
            return self.get_endpoint(name, version)
        return endpoint

    def create_endpoint(self, name: str, query: str | Mapping[str, Any], **fields: Any) -> Endpoint:
        """Create an endpoint (``query``: HogQL text or a query object; ``fields``: ``description``,
        ``data_freshness_seconds``, ``is_active``, ``is_materialized``, ``tags``, ...). Not retried
        once sent (a lost answer may have created it).

        :raises DashApiError: naming the field PostHog rejected (``name``, ``query``...).
        """
        body = {"name": name, "query": hogql(query) if isinstance(query, str) else dict(query), **fields}
        request = _routes.CREATE_ENDPOINT.request(endpoint_what(name), self.config.project_id, json=body)
        return parse(Endpoint, self._exchange(request)[1], endpoint_what(name))

    def update_endpoint(self, name: str, *, version: int | None = None, **fields: Any) -> Endpoint:
        """Change an endpoint (``PATCH``). A changed ``query`` makes a new version; with ``version``,
        that version's ``description``/``is_active``/... change instead (its query cannot).

        :return: the endpoint (or the version targeted) after the change.
        """
        if isinstance(fields.get("query"), str):
            fields["query"] = hogql(fields["query"])
        body = {**fields, **({"version": version} if version is not None else {})}
        what = endpoint_what(name, version)
        request = _routes.UPDATE_ENDPOINT.request(what, self.config.project_id, json=body, name=name)
        return parse(Endpoint, self._exchange(request)[1], what)

    def delete_endpoint(self, name: str) -> None:
        """Delete an endpoint (G3: soft delete; the name becomes free again).

        :raises DashNotFoundError: when there is no such live endpoint.
        """
        what = endpoint_what(name)
        self._exchange(_routes.DELETE_ENDPOINT.request(what, self.config.project_id, name=name), want_json=False)

    def list_versions(self, name: str) -> list[EndpointVersion]:
        """Every version of an endpoint, newest first (G3 pages, G1 one array)."""
        pid, what = self.config.project_id, f"the versions of {endpoint_what(name)}"
        versions: list[EndpointVersion] = []
        offset = 0
        while True:
            params = {"limit": LIST_PAGE_SIZE, "offset": offset}
            data = self._exchange(_routes.LIST_VERSIONS.request(what, pid, params=params, name=name))[1]
            if isinstance(data, list):  # G1: a bare array
                self._learn(G1)
                return [parse(EndpointVersion, item, what) for item in data]
            page = parse(ListPage, data, what)
            versions += [parse(EndpointVersion, item, what) for item in page.results]
            if not page.next or not page.results:
                return versions
            offset += len(page.results)

    def get_version(self, name: str, version: int) -> EndpointVersion:
        """One version: ``GET /endpoints/{name}/?version=N`` (G3) or ``/versions/{n}/`` (G1).

        :raises DashNotFoundError: unknown endpoint or version.
        """
        pid, what = self.config.project_id, endpoint_what(name, version)
        if self.generation == G1:
            request = _routes.GET_VERSION_G1.request(what, pid, name=name, version=version)
            return parse(EndpointVersion, self._exchange(request)[1], what)
        data = self._exchange(_routes.GET_ENDPOINT.request(what, pid, params={"version": version}, name=name))[1]
        return parse(EndpointVersion, data, what)

    def last_execution_times(self, names: Sequence[str]) -> dict[str, Any]:
        """``{name: datetime}`` of the endpoints' last API runs (names never run are absent)."""
        request = _routes.LAST_EXECUTION_TIMES.request(
            "last_execution_times", self.config.project_id, json={"names": list(names)}
        )
        return last_execution_times(self._exchange(request)[1])

    # ------------------------------------------------------------------ queries

    def get_query_status(self, query_id: str) -> QueryStatus:
        """``GET /query/{id}``: the status of a query that went through the async queue (G1's 202 path).

        :raises DashNotFoundError: unknown, expired, cancelled, or a synchronous run's id.
        """
        what = f"query {query_id}"
        request = _routes.QUERY_STATUS.request(what, self.config.project_id, query_id=query_id)
        return self._query_status(request)

    def _query_status(self, request: _routes.Request) -> QueryStatus:
        completed_with_error = _errors.QueryCompletedWithError()
        status, data = self._exchange(request, accept=completed_with_error)
        if data is None and status in (400, 500):
            raise completed_with_error.error(request.what, status)
        return parse(QueryStatus, (data or {}).get("query_status"), request.what)

    def cancel_query(self, query_id: str) -> str:
        """``DELETE /query/{id}``: stop a run tagged with this ``client_query_id``.

        :return: PostHog's message ("Cancelled query on clickhouse"; it answers so for any id).
        """
        what = f"query {query_id}"
        data = self._exchange(_routes.CANCEL_QUERY.request(what, self.config.project_id, query_id=query_id))[1]
        message = str((data or {}).get("message", ""))
        self.log.info("Cancel of %s: %s", what, message or "no message")
        return message

    # ------------------------------------------------------------------ runs

    def check_variables(
        self, name: str, variables: Mapping[str, Any] | None, version: int | None = None, refresh: str = "cache"
    ) -> Endpoint:
        """Read the endpoint (the version that will run) and check ``variables`` against it.

        :return: the endpoint.
        :raises DashVariableError: unknown name or missing required variable, naming the allowed ones.
        """
        endpoint = self.get_endpoint(name, version)
        check_variables(endpoint, as_variables(variables, name), check_refresh(refresh))
        return endpoint

    def run_endpoint(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        refresh: str = "cache",
        limit: int | None = None,
        offset: int | None = None,
        client_query_id: str | None = None,
        timeout: float | None = None,
    ) -> EndpointRun:
        """Run an endpoint once (synchronous on the server: the request is held for the whole run).

        :param timeout: seconds the run may take (default: the connection's ``run_timeout``).
        :return: the answer.
        :raises DashApiError: PostHog refused the run (field and expectation named) or a guardrail stopped it.
        """
        spec = RunSpec(
            name,
            as_variables(variables, name),
            version,
            check_refresh(refresh),
            limit,
            offset,
            client_query_id or new_client_query_id(),
        )
        return self.run(spec, deadline_after(timeout or self.config.run_timeout))

    def run(self, spec: RunSpec, deadline: float | None = None) -> EndpointRun:
        """Send one run of ``spec`` in the server's generation; follow G1's 202 through ``/query/{id}``.

        A retry after a lost answer first cancels the lost attempt (``DELETE /query/{client_query_id}``),
        so two heavy runs of one spec never overlap on the server.

        :raises DashTimeoutError: when ``deadline`` passes (the run is cancelled first).
        """
        generation = self._generation_for_run()
        what = endpoint_what(spec.endpoint, spec.version)

        def cancel_lost(failure: BaseException) -> None:
            if getattr(failure, "kind", None) in ("read", "timeout"):
                self.cancel_quietly(spec.client_query_id)

        for _ in range(2):  # once more if the server said it is the other generation
            body = run_body(spec, generation)
            request = _routes.RUN_ENDPOINT.request(what, self.config.project_id, json=body, name=spec.endpoint)
            try:
                status, data = self._exchange(
                    request,
                    timeout=self.config.run_timeout,
                    deadline=deadline,
                    accept=functools.partial(_rejected, sent=generation),
                    before_retry=cancel_lost,
                )
            except DashError as error:
                if is_past(deadline):
                    raise self._timed_out(spec, error) from None
                raise
            if data is not None or status < 400:
                self._learn(generation)
                run = parse(EndpointRun, data, what)
                if status == 202 or (run.query_status is not None and not run.query_status.complete):
                    return self._follow_g1_status(spec, run, deadline)
                return run
            generation = G1 if generation == G3 else G3
            self._learn(generation)
            self.log.info("The server rejected the run's keys: sending them again as %s", generation.upper())
        raise DashError(f"PostHog at {self.config.base_url} rejected both generations' keys for {what}")

    def _timed_out(self, spec: RunSpec, error: BaseException) -> DashTimeoutError:
        outcome = self.cancel_quietly(spec.client_query_id)
        return DashTimeoutError(
            f"The run of {endpoint_what(spec.endpoint, spec.version)} did not finish in time ({error}); "
            f"cancel of query {spec.client_query_id}: {outcome}"
        )

    def cancel_quietly(self, query_id: str) -> str:
        """:meth:`cancel_query`, logging instead of raising. :return: what happened, in words."""
        try:
            return self.cancel_query(query_id) or "sent"
        except DashError as error:
            self.log.warning("Could not cancel query %s: %s; it may still be running on the server", query_id, error)
            return f"failed ({error}); the run may still be going on the server"

    def _follow_g1_status(self, spec: RunSpec, run: EndpointRun, deadline: float | None) -> EndpointRun:
        # REFERENCE.md §3.2 and §8: a 202 with an incomplete query_status: poll /query/{id} until complete.
        assert run.query_status is not None
        query_id = run.query_status.id or spec.client_query_id
        schedule = PollSchedule(poll_interval=5.0)
        polls = 0
        while True:
            if is_past(deadline):
                raise self._timed_out(spec, TimeoutError("deadline passed while polling"))
            time.sleep(schedule.next_delay(polls, deadline))
            polls += 1
            try:
                status = self.get_query_status(query_id)
            except DashNotFoundError:
                raise DashError(
                    f"query {query_id} of {endpoint_what(spec.endpoint)} expired or was cancelled"
                ) from None
            if status.complete:
                return parse(EndpointRun, status.results, endpoint_what(spec.endpoint))

    def run_pages(
        self, spec: RunSpec, page_size: int = DEFAULT_PAGE_SIZE, deadline: float | None = None, *, paged: bool = True
    ) -> Iterator[EndpointRun]:
        """Every page of a run: ``limit``/``offset`` until ``hasMore`` is false (G3, HogQL endpoints);
        one run on a G1 server, or with ``paged=False`` (an insight endpoint: no paging there).
        """
        if paged and self.generation is None:
            self.detect_generation()
        if not paged or self.generation == G1:
            run = self.run(spec.page(None, None), deadline)
            if run.has_more:
                self.log.warning(
                    "%s has more rows than one run returns, and this server or endpoint cannot page",
                    endpoint_what(spec.endpoint),
                )
            yield run
            return
        offset = 0
        while True:
            run = self.run(spec.page(page_size, offset or None), deadline)
            yield run
            if not run.has_more or not run.results:
                return
            offset += len(run.results)

    def fetch_result(
        self, spec: RunSpec, page_size: int = DEFAULT_PAGE_SIZE, deadline: float | None = None, *, paged: bool = True
    ) -> EndpointResult:
        """Every row of a run (all pages) as one :class:`EndpointResult` (what the checks read)."""
        return EndpointResult.from_runs(spec.endpoint, self.run_pages(spec, page_size, deadline, paged=paged))

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's *Test connection*: list one endpoint (needs ``endpoint:read``).

        :return: (ok, message); never raises.
        """
        if self.config.is_secret_key:
            return False, (
                "A project secret key (phs_) may only run endpoints: Test connection cannot check it without "
                "running one. Use a personal API key (phx_) to test the connection."
            )
        try:
            generation = self.detect_generation()
        except DashError as error:
            return False, str(error)
        config = self.config
        return (
            True,
            f"Connected to PostHog at {config.base_url}, project {config.project_id} ({generation.upper()} API)",
        )
