"""RunEndpointOperator: run a PostHog endpoint, in the worker or held open by the triggerer, and return a summary.

The worker reads the endpoint once (its variables are checked against the definition, and the
server's generation is learnt), pushes the endpoint's UI URL for the extra link, then runs it in
the worker (``deferrable=False``) or defers to
:class:`~airflow_provider_dash.triggers.posthog.EndpointRunTrigger`, which holds the run's request
open in the triggerer. Rows never go to XCom unless asked (``return_rows=True``, capped).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dash.arguments import is_template, wait_deadline
from airflow_provider_dash.defaults import default_deferrable
from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.links.posthog import ENDPOINT_URL_KEY, PostHogEndpointLink
from airflow_provider_dash.polling import check_timeout

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.hooks._posthog_runs import RunSpec
    from airflow_provider_dash.hooks.posthog import PostHogHook
    from airflow_provider_dash.models.posthog import Endpoint, EndpointRun, RunSummary

#: XCom key of the run's ``client_query_id`` (what a cancel names).
CLIENT_QUERY_ID_KEY = "client_query_id"
DEFAULT_PAGE_SIZE = 10_000
DEFAULT_MAX_XCOM_ROWS = 1_000
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def make_hook(conn_id: str) -> PostHogHook:
    # The hook pulls in httpx and tenacity: imported when a task runs, not when a DAG is parsed.
    from airflow_provider_dash.hooks.posthog import PostHogHook

    return PostHogHook(posthog_conn_id=conn_id)


def check_endpoint_name(name: Any) -> None:
    """At DAG parse: a PostHog endpoint name (``^[a-zA-Z][a-zA-Z0-9_-]{0,127}$``) or a template.

    :raises DashConfigError: naming the value and what is expected.
    """
    if is_template(name):
        return
    if not isinstance(name, str) or not name or not name[0].isalpha() or not set(name) <= _NAME_CHARS:
        raise DashConfigError(
            f"endpoint must be a PostHog endpoint name (a letter, then letters, digits, '_' or '-'; at most 128), "
            f"got {name!r}"
        )
    if len(name) > 128:
        raise DashConfigError(f"endpoint names have at most 128 characters, got {len(name)}")


def _optional_int(value: Any, name: str, minimum: int) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "None", "none", "null")):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DashConfigError(f"{name} must be a whole number >= {minimum} or None, got {value!r}")
    return value


class RunEndpointOperator(BaseOperator):
    """Run a PostHog endpoint and return a small summary of the result (XCom ``return_value``).

    ``{"endpoint", "columns", "row_count", "pages", "version", "execution_id", "execution_ids",
    "is_cached", "has_more", "last_refresh", "client_query_id"}``, plus ``"rows"`` (lists of values)
    with ``return_rows=True``. Variables are checked against the endpoint's definition before
    anything runs. Every run carries a ``client_query_id`` (XCom ``client_query_id``); a timeout or
    a kill cancels it through ``DELETE /query/{client_query_id}``.

    :param endpoint: the endpoint's name (templated).
    :param variables: ``{code_name: value}`` (templated); variables not given keep their stored defaults.
    :param version: run this version (templated); ``None``: the current one.
    :param refresh: ``cache`` (default: a cached answer younger than the endpoint's freshness is
        served), ``force`` (compute now) or ``direct`` (compute now, bypassing a materialized table).
    :param limit: rows of the run (one page); ``None``: the server's default cap (100 rows without a LIMIT in the SQL).
    :param fetch_all: every row, paging through ``hasMore`` in pages of ``page_size`` (HogQL endpoints on G3).
    :param page_size: rows per page with ``fetch_all``.
    :param return_rows: put the rows in XCom too (at most ``max_xcom_rows``: more fail the task).
    :param max_xcom_rows: the cap of ``return_rows``.
    :param deferrable: hold the run in the triggerer, not in a worker slot (default ``[operators] default_deferrable``).
    :param timeout: seconds the run may take; at the deadline it is cancelled and the task fails.
        Airflow's ``execution_timeout`` is honoured too, also while deferred.
    :param posthog_conn_id: the Airflow connection.
    :raises DashVariableError: an unknown variable, or a required one missing (before any run).
    :raises DashTimeoutError: the deadline passed (the run was cancelled).
    :raises DashApiError: PostHog refused the run (the field and what it expects are named).
    """

    template_fields: Sequence[str] = ("endpoint", "variables", "version", "refresh", "limit")
    template_fields_renderers = {"variables": "json"}
    operator_extra_links = (PostHogEndpointLink(),)
    ui_color = "#f9bd2b"
    #: Subclasses that judge or write every row fetch them in the worker (after a deferral, from PostHog's cache).
    _reads_rows = False

    def __init__(
        self,
        *,
        endpoint: str,
        variables: Mapping[str, Any] | str | None = None,
        version: int | str | None = None,
        refresh: str = "cache",
        limit: int | str | None = None,
        fetch_all: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        return_rows: bool = False,
        max_xcom_rows: int = DEFAULT_MAX_XCOM_ROWS,
        deferrable: bool = default_deferrable(),
        timeout: float | timedelta | None = None,
        posthog_conn_id: str = "posthog_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_endpoint_name(endpoint)
        if variables is not None and not is_template(variables) and not isinstance(variables, Mapping):
            raise DashConfigError(
                f"variables of endpoint {endpoint!r} must be a dict of name to value, got {variables!r}"
            )
        if not is_template(refresh):
            from airflow_provider_dash.hooks._posthog_runs import check_refresh

            check_refresh(refresh)
        for name, value, minimum in (("version", version, 1), ("limit", limit, 1)):
            if not is_template(value):
                _optional_int(value, name, minimum)
        if fetch_all and limit is not None:
            raise DashConfigError("give limit (one page of that many rows) or fetch_all=True (every row), not both")
        _optional_int(page_size, "page_size", 1)
        _optional_int(max_xcom_rows, "max_xcom_rows", 0)
        self.endpoint = endpoint
        self.variables = variables
        self.version = version
        self.refresh = refresh
        self.limit = limit
        self.fetch_all = fetch_all
        self.page_size = page_size
        self.return_rows = return_rows
        self.max_xcom_rows = max_xcom_rows
        self.deferrable = deferrable
        self.timeout = check_timeout(timeout.total_seconds() if isinstance(timeout, timedelta) else timeout)
        self.posthog_conn_id = posthog_conn_id
        # Set while a run is held in the worker, for on_kill.
        self._client_query_id: str | None = None

    # ------------------------------------------------------------------ run

    def _spec(self, client_query_id: str) -> RunSpec:
        from airflow_provider_dash.hooks._posthog_runs import RunSpec, as_variables

        name = str(self.endpoint)
        return RunSpec(
            name,
            as_variables(self.variables, name),
            _optional_int(self.version, "version", 1),
            str(self.refresh),
            _optional_int(self.limit, "limit", 1),
            None,
            client_query_id,
        )

    def execute(self, context: Context) -> Any:
        """Check the variables, push the link, then run in the worker or defer to the trigger."""
        from airflow_provider_dash.hooks._posthog_config import G3
        from airflow_provider_dash.hooks._posthog_runs import check_variables, new_client_query_id
        from airflow_provider_dash.hooks.posthog import endpoint_ui_url

        check_endpoint_name(self.endpoint)
        spec = self._spec(new_client_query_id())
        hook = make_hook(self.posthog_conn_id)
        config = hook.config
        endpoint: Endpoint | None = None
        if config.is_secret_key:
            self.log.warning(
                "Connection %r has a project secret key (phs_), which may run endpoints but not read them: the "
                "variables are checked by PostHog when the run starts, not before",
                self.posthog_conn_id,
            )
        else:
            endpoint = hook.get_endpoint(spec.endpoint, spec.version)
            check_variables(endpoint, spec.variables, spec.refresh)
        url = (endpoint.ui_url if endpoint else None) or endpoint_ui_url(
            config.base_url, config.project_id, spec.endpoint
        )
        context["ti"].xcom_push(key=ENDPOINT_URL_KEY, value=url)
        context["ti"].xcom_push(key=CLIENT_QUERY_ID_KEY, value=spec.client_query_id)
        generation = hook.detect_generation() if endpoint is None else hook.generation
        paged = (endpoint is None or endpoint.is_hogql) and generation == G3
        deadline, _ = wait_deadline(context, self.timeout, self.execution_timeout)
        rows_wanted = self.return_rows or self._reads_rows
        if self.deferrable and spec.refresh == "direct" and rows_wanted:
            # The rows are read again after a deferral, from PostHog's cache: "direct" has none, so
            # deferring would compute the endpoint twice.
            self.log.info("refresh='direct' and the rows are needed: running in the worker instead of deferring")
        elif self.deferrable:
            # Imported here: it loads airflow.triggers.base, which DAG parsing never needs.
            from airflow_provider_dash.triggers.posthog import EndpointRunTrigger

            self.log.info("Deferring the run of endpoint %r (query %s)", spec.endpoint, spec.client_query_id)
            self.defer(
                trigger=EndpointRunTrigger(
                    endpoint=spec.endpoint,
                    posthog_conn_id=self.posthog_conn_id,
                    client_query_id=spec.client_query_id,
                    variables=dict(spec.variables),
                    version=spec.version,
                    refresh=spec.refresh,
                    limit=spec.limit,
                    fetch_all=self.fetch_all,
                    page_size=self.page_size,
                    paged=paged,
                    generation=hook.generation,
                    end_time=deadline,
                    deferred_at=time.time(),
                ),
                method_name="execute_complete",
            )
        self._client_query_id = spec.client_query_id
        try:
            return self._consume(context, hook, spec, self._pages(hook, spec, deadline, paged))
        finally:
            self._client_query_id = None

    def _pages(self, hook: PostHogHook, spec: RunSpec, deadline: float | None, paged: bool) -> Iterator[EndpointRun]:
        if self.fetch_all:
            return hook.run_pages(spec, self.page_size, deadline, paged=paged)
        return iter([hook.run(spec, deadline)])

    def execute_complete(self, context: Context, event: dict[str, Any], **_: Any) -> Any:
        """Resume after the trigger: the summary, or (rows wanted) the pages again from PostHog's cache.

        :raises DashTimeoutError: the run passed its deadline (the trigger cancelled it).
        """
        from airflow_provider_dash.triggers._posthog_events import read_run_event

        summary = read_run_event(event).raise_for_status()
        self.log.info(
            "Endpoint %r answered in the triggerer: %d rows in %d page(s), version %s, cached: %s",
            summary.endpoint,
            summary.row_count,
            summary.pages,
            summary.version,
            summary.to_json()["is_cached"],
        )
        if not (self.return_rows or self._reads_rows):
            return self._summary_value(summary, None)
        # The rows stay out of the trigger event: read the same pages again, served by PostHog's cache
        # (never with "direct": execute runs such a task in the worker), under the task's limits and
        # cancellable by on_kill like any run.
        hook = make_hook(self.posthog_conn_id)
        spec = self._spec(summary.client_query_id).with_refresh("cache")
        deadline = wait_deadline(context, self.timeout, self.execution_timeout)[0]
        self._client_query_id = spec.client_query_id
        try:
            return self._consume(context, hook, spec, self._pages(hook, spec, deadline, summary.paged))
        finally:
            self._client_query_id = None

    def _consume(self, context: Context, hook: PostHogHook, spec: RunSpec, pages: Iterator[EndpointRun]) -> Any:
        """Turn the run's pages into the task's return value (the checks and the export override it)."""
        from airflow_provider_dash.models.posthog import RunSummary

        summary = RunSummary(spec.endpoint, spec.client_query_id)
        rows: list[list[Any]] | None = [] if self.return_rows else None
        for run in pages:
            summary.add(run)
            if rows is not None:
                rows += [list(r) if isinstance(r, (list, tuple)) else r for r in run.results]
                self._check_xcom_cap(len(rows))
        self.log.info(
            "Endpoint %r: %d rows in %d page(s), version %s",
            spec.endpoint,
            summary.row_count,
            summary.pages,
            summary.version,
        )
        return self._summary_value(summary, rows)

    def _check_xcom_cap(self, count: int) -> None:
        if count > self.max_xcom_rows:
            raise DashError(
                f"return_rows=True: endpoint {self.endpoint!r} returned more than max_xcom_rows={self.max_xcom_rows} "
                "rows; raise max_xcom_rows, or write the rows out with ExportEndpointResultOperator"
            )

    def _summary_value(self, summary: RunSummary, rows: list[Any] | None) -> dict[str, Any]:
        value = summary.to_json()
        if rows is not None:
            value["rows"] = rows
        return value

    def on_kill(self) -> None:
        """Cancel the run held in the worker (``DELETE /query/{client_query_id}``)."""
        query_id = self._client_query_id
        if query_id is None:
            return
        self.log.info("Task killed: cancelling query %s of endpoint %r", query_id, self.endpoint)
        hook = make_hook(self.posthog_conn_id)
        try:
            hook.cancel_quietly(query_id)
        finally:
            hook.close()
