"""Operators: run a saved Redash query (RunQueryOperator) and refresh a dashboard (RefreshDashboardOperator).

Submission always happens in the worker; waiting happens in the worker (``deferrable=False``) or in
the triggerer through :class:`~airflow_provider_dash.triggers.dash.JobTrigger`. Both paths use the
one polling schedule of :mod:`airflow_provider_dash.polling` and read trigger events through
:func:`~airflow_provider_dash.events.read_job_event`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dash.defaults import default_deferrable
from airflow_provider_dash.events import read_job_event
from airflow_provider_dash.exceptions import (
    DashConfigError,
    DashError,
    DashJobCancelledError,
    DashJobError,
    DashJobFailedError,
    DashJobNotFoundError,
    DashTimeoutError,
)
from airflow_provider_dash.links import (
    DASHBOARD_URL_KEY,
    QUERY_URL_KEY,
    RedashDashboardLink,
    RedashQueryLink,
    dashboard_page_url,
    query_page_url,
)
from airflow_provider_dash.models import Job, JobStatus, MappingType, Widget

# _api is stdlib-only (no requests, httpx or tenacity at import time): the one failure text lives there.
from airflow_provider_dash.models.redash import clean_job_error, job_failure_message, raise_for_job
from airflow_provider_dash.parameters import resolve_parameters
from airflow_provider_dash.polling import (
    DEFAULT_POLL_INTERVAL,
    PollSchedule,
    check_poll_interval,
    check_timeout,
    deadline_after,
    earliest,
    is_past,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.hooks.dash import DashHook

#: XCom key of the job id (the query URL goes under :data:`~airflow_provider_dash.links.QUERY_URL_KEY`).
JOB_ID_KEY = "job_id"
#: XCom key of the in-flight job ids a dashboard refresh left running (``wait_for_completion=False``).
JOB_IDS_KEY = "job_ids"
#: ``task_state_store`` key of the job a RunQueryOperator try submitted (read by the next try).
STORED_JOB_KEY = "dash_job"

_state_store_warned = False
_SHARED_NOT_CANCELLED = "it is shared with another run, so this task does not cancel it"


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _check_query_id(query_id: Any) -> None:
    if _is_template(query_id):
        return
    if isinstance(query_id, bool) or not isinstance(query_id, (int, str)):
        raise DashConfigError(f"query_id must be a query id (int) or a Jinja template, got {query_id!r}")
    if isinstance(query_id, str) and not query_id.strip().isdigit():
        raise DashConfigError(f"query_id must be a query id (int) or a Jinja template, got {query_id!r}")
    if int(query_id) < 1:
        raise DashConfigError(f"query_id must be a positive id, got {query_id!r}")


def _as_query_id(query_id: Any) -> int:
    """The rendered ``query_id`` as an int (templates render to strings such as ``"7"``)."""
    if isinstance(query_id, str) and query_id.strip().isdigit():
        query_id = int(query_id.strip())
    if isinstance(query_id, bool) or not isinstance(query_id, int) or query_id < 1:
        raise DashConfigError(f"query_id must render to a positive whole number, got {query_id!r}")
    return query_id


def _check_max_age(max_age: Any) -> None:
    if max_age is None or _is_template(max_age):
        return
    _as_max_age(max_age)


def _as_max_age(max_age: Any) -> int | None:
    """The rendered ``max_age``: seconds >= 0, or ``None`` for any cached result."""
    if isinstance(max_age, str):
        text = max_age.strip()
        if text in ("", "None", "none", "null"):
            return None
        if text.lstrip("-").isdigit():
            max_age = int(text)
    if max_age is None:
        return None
    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise DashConfigError(
            f"max_age must be a whole number of seconds >= 0 (0 always runs), or None to accept any cached "
            f"result; got {max_age!r}"
        )
    return max_age


def _as_parameters(parameters: Any, what: str = "parameters") -> dict[str, Any]:
    """The rendered ``parameters`` as a dict (a template may render to a JSON object text)."""
    if parameters is None or parameters == "":
        return {}
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters)
        except ValueError:
            raise DashConfigError(f"{what} must be a dict (or render to a JSON object), got {parameters!r}") from None
    if not isinstance(parameters, Mapping):
        raise DashConfigError(f"{what} must be a dict of parameter name to value, got {parameters!r}")
    return {str(name): value for name, value in parameters.items()}


def _check_parameters(parameters: Any) -> None:
    if parameters is None or _is_template(parameters) or isinstance(parameters, Mapping):
        return
    raise DashConfigError(f"parameters must be a dict of parameter name to value, got {parameters!r}")


def _execution_deadline(context: Context, execution_timeout: timedelta | None) -> float | None:
    """Epoch seconds at which Airflow's ``execution_timeout`` of this try runs out, if set."""
    if not execution_timeout:
        return None
    start = getattr(context.get("ti"), "start_date", None)
    if start is None:
        return deadline_after(execution_timeout.total_seconds())
    return start.timestamp() + execution_timeout.total_seconds()


def _wait_deadline(
    context: Context, timeout: float | None, execution_timeout: timedelta | None
) -> tuple[float | None, str]:
    """The wait's absolute deadline (the earlier of ``timeout`` and ``execution_timeout``) and how to
    describe that limit in a timeout message."""
    own = deadline_after(timeout)
    airflow = _execution_deadline(context, execution_timeout)
    deadline = earliest(own, airflow)
    if deadline is None:
        return None, ""
    if deadline == airflow and execution_timeout is not None:
        return deadline, f"execution_timeout={execution_timeout.total_seconds():g} s"
    return deadline, f"timeout={timeout:g} s"


def _make_hook(conn_id: str) -> DashHook:
    # The hook pulls in requests and tenacity: imported when a task runs, not when a DAG is parsed.
    from airflow_provider_dash.hooks.dash import DashHook

    return DashHook(dash_conn_id=conn_id)


class _StoredJob:
    """The job a try submitted, kept in ``task_state_store`` so a retry can reattach to it.

    A small equivalent of :class:`airflow.sdk.ResumableJobMixin` usable by both the sync and the
    deferrable path. Without ``task_state_store`` (Airflow < 3.3) every try submits afresh.
    """

    def __init__(self, context: Context, log: Any) -> None:
        global _state_store_warned
        self._store = context.get("task_state_store")
        if self._store is None and not _state_store_warned:
            _state_store_warned = True
            log.warning("task_state_store is not available (Airflow < 3.3): a retry cannot reattach to a running job")

    def get(self) -> dict[str, Any] | None:
        if self._store is None:
            return None
        value = self._store.get(STORED_JOB_KEY)
        return value if isinstance(value, dict) and isinstance(value.get("job_id"), str) else None

    def set(self, job_id: str, query_id: int, owned: bool) -> None:
        if self._store is not None:
            self._store.set(STORED_JOB_KEY, {"job_id": job_id, "query_id": query_id, "owned": owned})

    def clear(self) -> None:
        # Forget the job once the task succeeded, so clearing the task later runs the query again.
        if self._store is not None:
            self._store.delete(STORED_JOB_KEY)


class RunQueryOperator(BaseOperator):
    """Execute a saved Redash query and return its ``query_result_id`` (XCom ``return_value``).

    Parameters not given are filled from the query's saved defaults and every value is checked
    before anything is sent. A cached answer returns its result id at once, in every mode. For a
    job, the job id (XCom ``job_id``) and the query's page (XCom ``query_url``) are pushed before
    any waiting, so the extra link and a downstream :class:`~airflow_provider_dash.sensors.dash.JobSensor`
    work even when the wait fails.

    Redash reuses one live job for identical SQL. A job that was already running when this task
    submitted belongs to someone else as well ("shared"): it is never cancelled by this task.

    A retry reattaches (Airflow 3.3 ``task_state_store``): if the previous try's job is still
    running it is waited on instead of submitting again; if it finished, its result id is returned.

    :param query_id: the saved query's id (templated).
    :param parameters: parameter values by name (templated, e.g. ``{"date": "{{ ds }}"}``).
    :param max_age: reuse a cached result up to this many seconds old (templated); ``0`` always
        runs, ``None`` accepts any cached result.
    :param wait_for_completion: wait for the job; when False, return ``None`` right after
        submitting (the job id is in XCom ``job_id``).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: the longest pause between two polls, in seconds.
    :param timeout: seconds to wait for the job at most; at the deadline the job is cancelled
        (unless shared) and the task fails saying so. Airflow's ``execution_timeout`` is honoured
        too, also while deferred.
    :param cancel_on_kill: cancel the job when the task is killed (never a shared job).
    :param dash_conn_id: the Airflow connection of the server.
    :return: the query result id, or ``None`` when not waiting for a job.
    :raises DashJobFailedError: the job failed (Redash's error text).
    :raises DashJobCancelledError: the job was cancelled.
    :raises DashTimeoutError: the wait passed ``timeout`` or ``execution_timeout``.
    """

    template_fields: Sequence[str] = ("query_id", "parameters", "max_age")
    template_fields_renderers = {"parameters": "json"}
    operator_extra_links = (RedashQueryLink(),)
    ui_color = "#ff7667"
    #: Subclasses that can work from a given result id (no query) set this to False.
    _query_id_required = True

    def __init__(
        self,
        *,
        query_id: int | str | None,
        parameters: Mapping[str, Any] | str | None = None,
        max_age: int | str | None = 0,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        dash_conn_id: str = "dash_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if query_id is not None or self._query_id_required:
            _check_query_id(query_id)
        _check_parameters(parameters)
        _check_max_age(max_age)
        self.query_id = query_id
        self.parameters = parameters
        self.max_age = max_age
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = check_poll_interval(poll_interval)
        self.timeout = check_timeout(timeout.total_seconds() if isinstance(timeout, timedelta) else timeout)
        self.cancel_on_kill = cancel_on_kill
        self.dash_conn_id = dash_conn_id
        # Set while a job is being waited on in the worker, for on_kill.
        self._job_id: str | None = None
        self._job_query_id: int | None = None
        self._job_owned = False
        self._hook: DashHook | None = None

    def _get_hook(self) -> DashHook:
        if self._hook is None:
            self._hook = _make_hook(self.dash_conn_id)
        return self._hook

    def execute(self, context: Context) -> Any:
        """Execute the query (or reattach to the previous try's job), wait as configured, then :meth:`_on_result`."""
        result_id = self._run_query(context)
        return None if result_id is None else self._on_result(context, result_id)

    def _on_result(self, context: Context, result_id: int) -> Any:
        """What to do with the finished run's result; the task's return value (XCom ``return_value``).

        Called once per successful run, from :meth:`execute` (cached answer, worker wait, reattach)
        and from :meth:`execute_complete` (after a deferral). The checks and the export override it.
        """
        return result_id

    def _run_query(self, context: Context) -> int | None:
        """Execute the query (or reattach) and wait or defer; the result id, or ``None`` when not waiting."""
        query_id = _as_query_id(self.query_id)
        parameters = _as_parameters(self.parameters)
        max_age = _as_max_age(self.max_age)
        hook = self._get_hook()
        context["ti"].xcom_push(key=QUERY_URL_KEY, value=query_page_url(hook.config.base_url, query_id))
        stored = _StoredJob(context, self.log)

        job = self._reattach(hook, stored, query_id)
        if job is not None and job.succeeded:
            context["ti"].xcom_push(key=JOB_ID_KEY, value=job.id)
            stored.clear()
            return job.query_result_id
        if job is None:
            run = hook.execute_query(query_id, parameters, max_age=max_age)
            if run.job is None or run.query_result_id is not None:
                self.log.info("Query %s answered with result %s at once", query_id, run.query_result_id)
                stored.clear()
                return run.query_result_id
            job = run.job
            owned = run.shared is not True
            stored.set(job.id, query_id, owned)
            if run.shared is None:
                self.log.warning(
                    "Could not tell whether job %s of query %s was started by this task (the server sent no Date "
                    "header or start time): treating it as this task's, so a timeout or kill will cancel it",
                    job.id,
                    query_id,
                )
        else:
            owned = bool((stored.get() or {}).get("owned", True))

        context["ti"].xcom_push(key=JOB_ID_KEY, value=job.id)
        self._job_id, self._job_query_id, self._job_owned = job.id, query_id, owned
        if not owned:
            self.log.info(
                "Job %s was already running when this task submitted query %s (started %s, server time, before "
                "this request reached the server): Redash shares one job between identical runs, so this task "
                "will not cancel it on timeout or kill",
                job.id,
                query_id,
                job.updated_at,
            )
        if not self.wait_for_completion:
            self.log.info("Not waiting for job %s (wait_for_completion=False); a JobSensor can wait on it", job.id)
            stored.clear()  # submitted: a later clear-and-rerun of this task must submit again
            return None
        if self.deferrable:
            return self._defer(context, hook, job, query_id, owned, stored)
        return self._wait(hook, job, query_id, owned, stored)

    def _reattach(self, hook: DashHook, stored: _StoredJob, query_id: int) -> Job | None:
        """The previous try's job when it is still running or finished with a result, else ``None``."""
        previous = stored.get()
        if previous is None:
            return None
        job_id = previous["job_id"]
        if previous.get("query_id") != query_id:
            self.log.info("The previous try's job %s ran another query: submitting afresh", job_id)
            return None
        try:
            job = hook.get_job(job_id, query_id)
        except DashJobNotFoundError:
            self.log.info("The previous try's job %s is gone: submitting afresh", job_id)
            return None
        if job.succeeded:
            self.log.info(
                "The previous try's job %s finished with result %s: not running again", job_id, job.query_result_id
            )
            return job
        if not job.is_terminal:
            self.log.info(
                "Reattaching to job %s of the previous try (status %s) instead of submitting again",
                job_id,
                job.status.name,
            )
            return job
        self.log.info(
            "The previous try's job %s ended without a result (%s): submitting afresh", job_id, job.status.name
        )
        return None

    def _wait(self, hook: DashHook, job: Job, query_id: int, owned: bool, stored: _StoredJob) -> int:
        try:
            done = hook.wait_for_job(
                job.id,
                query_id=query_id,
                timeout=self.timeout,
                poll_interval=self.poll_interval,
                cancel_on_timeout=owned,
            )
        except DashTimeoutError as error:
            if owned:
                raise
            raise DashTimeoutError(f"{error} ({_SHARED_NOT_CANCELLED})") from None
        finally:
            self._job_id = None
        stored.clear()
        assert done.query_result_id is not None  # wait_for_job raises for anything but a result
        return done.query_result_id

    def _defer(self, context: Context, hook: DashHook, job: Job, query_id: int, owned: bool, stored: _StoredJob) -> int:
        # One status check first: a fast query is done by now and needs no trip through the triggerer.
        job = hook.get_job(job.id, query_id)
        if job.is_terminal:
            self._job_id = None
            raise_for_job(job, query_id)
            stored.clear()
            assert job.query_result_id is not None
            return job.query_result_id
        deadline, limit = _wait_deadline(context, self.timeout, self.execution_timeout)
        # Imported here: it loads airflow.triggers.base, which DAG parsing never needs.
        from airflow_provider_dash.triggers.dash import JobTrigger

        self.defer(
            trigger=JobTrigger(
                job_ids=[job.id],
                dash_conn_id=self.dash_conn_id,
                poll_interval=self.poll_interval,
                end_time=deadline,
                query_ids={job.id: query_id},
                owned_job_ids=[job.id] if owned else [],
                cancel_on_kill=self.cancel_on_kill,
                resume_state={
                    "job_id": job.id,
                    "query_id": query_id,
                    "owned": owned,
                    "limit": limit,
                    "started": time.time(),
                },
            ),
            method_name="execute_complete",
            # No defer timeout: the trigger's own deadline lets execute_complete cancel the job.
        )

    def execute_complete(self, context: Context, event: dict[str, Any], **_: Any) -> Any:
        """Resume after :class:`JobTrigger`: :meth:`_on_result` of the result id, or cancel on timeout and raise.

        :raises DashJobFailedError: the job failed.
        :raises DashJobCancelledError: the job was cancelled.
        :raises DashTimeoutError: the deadline passed (the job is cancelled unless shared).
        """
        outcomes = read_job_event(event)
        state = outcomes.state
        job_id, query_id = str(state["job_id"]), int(state["query_id"])
        if outcomes.status == "timeout":
            started = state.get("started")
            waited = f"{time.time() - started:.1f} s" if isinstance(started, (int, float)) else "until its deadline"
            raise DashTimeoutError(
                f"Job {job_id} of query {query_id} did not finish within {state.get('limit') or 'the time allowed'} "
                f"(waited {waited}); the job was "
                f"{self._cancel_after_timeout(job_id, query_id, bool(state.get('owned', True)))}"
            )
        outcomes.raise_for_failures()
        _StoredJob(context, self.log).clear()
        result_id = outcomes.result_id(job_id)
        assert result_id is not None  # raise_for_failures raised otherwise
        return self._on_result(context, result_id)

    def _cancel_after_timeout(self, job_id: str, query_id: int, owned: bool) -> str:
        if not owned:
            return f"left running ({_SHARED_NOT_CANCELLED})"
        return _make_hook(self.dash_conn_id).cancel_summary(job_id, query_id)

    def on_kill(self) -> None:
        """Cancel the job being waited on in the worker, unless shared or ``cancel_on_kill`` is False."""
        job_id, query_id = self._job_id, self._job_query_id
        if job_id is None:
            return
        if not self.cancel_on_kill:
            self.log.info("cancel_on_kill is False: leaving job %s running", job_id)
            return
        if not self._job_owned:
            self.log.info(
                "Not cancelling job %s: it was already running when this task submitted (Redash shares one job "
                "between identical runs), so another run may be waiting on it",
                job_id,
            )
            return
        _make_hook(self.dash_conn_id).cancel_summary(job_id, query_id)  # logs the outcome


# --------------------------------------------------------------------------- dashboards


def _collect_runs(widgets: Sequence[Widget], overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One run per distinct (query, effective parameters) of the dashboard's widgets, in widget order.

    :raises DashConfigError: when ``overrides`` names a parameter the dashboard does not have.
    :raises DashParameterError: when an effective value does not fit its query's definition.
    """
    dashboard_level = sorted(
        {m.map_to for w in widgets for m in w.parameter_mappings if m.type is MappingType.DASHBOARD_LEVEL}
    )
    unknown = sorted(set(overrides) - set(dashboard_level))
    if unknown:
        listed = ", ".join(dashboard_level) if dashboard_level else "none"
        raise DashConfigError(
            f"parameters {', '.join(unknown)} match no dashboard-level parameter; "
            f"the dashboard's parameters are: {listed}"
        )
    runs: dict[tuple[int, str], dict[str, Any]] = {}
    for widget in widgets:
        query = widget.query
        if query is None:  # a text widget
            continue
        given: dict[str, Any] = {}
        for mapping in widget.parameter_mappings:
            if query.parameter(mapping.name) is None:
                continue  # a stale mapping for a parameter the query no longer has
            if mapping.type is MappingType.DASHBOARD_LEVEL:
                if mapping.map_to in overrides:
                    given[mapping.name] = overrides[mapping.map_to]
            elif mapping.value is not None:  # widget-level value set on the widget, or a static value
                given[mapping.name] = mapping.value
        values = resolve_parameters(query, given)
        key = (query.id, json.dumps(values, sort_keys=True, default=str))
        run = runs.setdefault(
            key, {"query_id": query.id, "parameters": values, "query_result_id": None, "widget_ids": []}
        )
        run["widget_ids"].append(widget.id)
    return list(runs.values())


class RefreshDashboardOperator(BaseOperator):
    """Run every query of a dashboard (as its widgets show them) and return one entry per run.

    Each widget's query gets its effective parameters: the query's saved defaults, then values set
    on the widget, static values, and dashboard-level parameters (filled from ``parameters`` by
    the dashboard parameter's name). Text widgets are skipped and identical (query, parameters)
    pairs run once. At most ``max_active_queries`` run at a time; while deferred, one
    :class:`JobTrigger` waits on the whole window and returns as soon as one job ends when more
    queries are waiting, so the operator submits the next ones (submission stays in the worker) and
    defers again.

    :param dashboard: the dashboard's id or slug (templated).
    :param parameters: dashboard-level parameter values by name (templated).
    :param max_age: reuse cached results up to this many seconds old (templated; 0 always runs,
        ``None`` any cached result).
    :param max_active_queries: queries in flight at most.
    :param fail_fast: fail at the first failed query (cancelling the other jobs this task started)
        instead of at the end naming every failure.
    :param wait_for_completion: when False, return as soon as every query has been submitted (the
        last window's job ids are in XCom ``job_ids``; their ``query_result_id`` is ``None``).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: the longest pause between two polls, in seconds.
    :param timeout: seconds for the whole refresh at most; at the deadline the jobs still running
        that this task started are cancelled and the task fails saying so.
    :param cancel_on_kill: cancel the jobs this task started when it is killed.
    :param dash_conn_id: the Airflow connection of the server.
    :return: a list of ``{"query_id", "parameters", "query_result_id", "widget_ids"}``.
    :raises DashError: naming every failed query with its error (or the first, with ``fail_fast``).
    """

    template_fields: Sequence[str] = ("dashboard", "parameters", "max_age")
    template_fields_renderers = {"parameters": "json"}
    operator_extra_links = (RedashDashboardLink(),)
    ui_color = "#ff7667"

    def __init__(
        self,
        *,
        dashboard: int | str,
        parameters: Mapping[str, Any] | str | None = None,
        max_age: int | str | None = 0,
        max_active_queries: int = 8,
        fail_fast: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        dash_conn_id: str = "dash_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(dashboard, bool) or not isinstance(dashboard, (int, str)) or dashboard == "":
            raise DashConfigError(f"dashboard must be a dashboard id or slug, got {dashboard!r}")
        _check_parameters(parameters)
        _check_max_age(max_age)
        if isinstance(max_active_queries, bool) or not isinstance(max_active_queries, int) or max_active_queries < 1:
            raise DashConfigError(f"max_active_queries must be a whole number >= 1, got {max_active_queries!r}")
        self.dashboard = dashboard
        self.parameters = parameters
        self.max_age = max_age
        self.max_active_queries = max_active_queries
        self.fail_fast = fail_fast
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = check_poll_interval(poll_interval)
        self.timeout = check_timeout(timeout.total_seconds() if isinstance(timeout, timedelta) else timeout)
        self.cancel_on_kill = cancel_on_kill
        self.dash_conn_id = dash_conn_id
        self._state: dict[str, Any] | None = None
        self._hook: DashHook | None = None

    # The refresh's progress is one plain-JSON dict, so it can travel through a deferral:
    #   runs      the collected runs (the return value, filled as results arrive) plus "error"
    #   queue     indexes of runs not yet submitted
    #   in_flight job id -> indexes of the runs waiting on it (identical SQL may share one job)
    #   owned     job ids this task started (cancellable); the others were already running
    #   deadline  absolute end of the refresh (epoch seconds) or None; limit: how to describe it

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Collect the dashboard's runs, submit them within the window, and wait as configured."""
        hook = self._get_hook()
        dashboard = hook.get_dashboard(self.dashboard)
        context["ti"].xcom_push(
            key=DASHBOARD_URL_KEY, value=dashboard_page_url(hook.config.base_url, dashboard.id, dashboard.slug)
        )
        overrides = _as_parameters(self.parameters)
        runs = _collect_runs(dashboard.widgets, overrides)
        self.log.info(
            "Dashboard %s (%r): %d distinct quer%s from %d widget(s)",
            dashboard.id,
            dashboard.name,
            len(runs),
            "y" if len(runs) == 1 else "ies",
            sum(len(r["widget_ids"]) for r in runs),
        )
        deadline, limit = _wait_deadline(context, self.timeout, self.execution_timeout)
        self._state = {
            "runs": [{**run, "error": None} for run in runs],
            "queue": list(range(len(runs))),
            "in_flight": {},
            "owned": [],
            "deadline": deadline,
            "limit": limit,
            "started": time.time(),
        }
        return self._proceed(context)

    def _get_hook(self) -> DashHook:
        if self._hook is None:
            self._hook = _make_hook(self.dash_conn_id)
        return self._hook

    def _proceed(self, context: Context) -> list[dict[str, Any]]:
        """Fill the window and wait (in the worker, or by deferring) until every run is done."""
        state = self._require_state()
        self._fill_window()
        if not self.wait_for_completion and not state["queue"]:
            return self._finish(context, waiting=False)
        if self.deferrable:
            if state["in_flight"]:
                self._defer_window()
            return self._finish(context)
        self._wait_in_worker()
        return self._finish(context)

    def _require_state(self) -> dict[str, Any]:
        assert self._state is not None
        return self._state

    def _fill_window(self) -> None:
        """Submit queued runs until ``max_active_queries`` jobs are in flight or nothing is queued."""
        state = self._require_state()
        hook = self._get_hook()
        max_age = _as_max_age(self.max_age)
        while state["queue"] and len(state["in_flight"]) < self.max_active_queries:
            index = state["queue"].pop(0)
            run = state["runs"][index]
            try:
                # The values were filled and checked when the runs were collected.
                answer = hook.execute_query(run["query_id"], run["parameters"], max_age=max_age, check_parameters=False)
            except DashError as error:
                self._record_failure(index, str(error))
                continue
            if answer.job is None or answer.query_result_id is not None:
                run["query_result_id"] = answer.query_result_id
                continue
            job = answer.job
            if job.id in state["in_flight"]:
                state["in_flight"][job.id].append(index)
                continue
            state["in_flight"][job.id] = [index]
            if answer.shared is not True:
                state["owned"].append(job.id)
            else:
                self.log.info(
                    "Job %s of query %s was already running before this task submitted it (Redash shares one job "
                    "between identical runs): this task will not cancel it",
                    job.id,
                    run["query_id"],
                )

    def _record_failure(self, index: int, message: str, error: DashError | None = None) -> None:
        state = self._require_state()
        state["runs"][index]["error"] = message
        if self.fail_fast:
            note = self._cancel_in_flight()
            note = f" (fail_fast: {note})" if note else ""
            run = state["runs"][index]
            text = f"Refreshing the dashboard failed at query {run['query_id']} (widgets {_ids(run)}): {message}{note}"
            if isinstance(error, DashJobError):
                raise type(error)(text, job_id=error.job_id, query_id=error.query_id, error=error.error)
            raise DashError(text)

    def _record_job(self, job: Job) -> None:
        """Record a terminal job's outcome for every run waiting on it."""
        state = self._require_state()
        indexes = state["in_flight"].pop(job.id, [])
        if job.succeeded:
            for index in indexes:
                state["runs"][index]["query_result_id"] = job.query_result_id
            return
        for index in indexes:
            query_id = state["runs"][index]["query_id"]
            kind = DashJobCancelledError if job.is_cancelled else DashJobFailedError
            message = job_failure_message(job, query_id)
            self._record_failure(
                index, message, kind(message, job_id=job.id, query_id=query_id, error=clean_job_error(job.error))
            )

    def _cancel_in_flight(self) -> str:
        """Cancel the in-flight jobs this task started (each outcome is logged).

        :return: what happened, for a failure text ("" when nothing was in flight), saying which
            jobs may still be running on the server and why.
        """
        state = self._require_state()
        owned = [job_id for job_id in state["in_flight"] if job_id in state["owned"]]
        if not owned:
            return ""
        hook = self._get_hook()
        summaries = {
            job_id: hook.cancel_summary(job_id, state["runs"][state["in_flight"][job_id][0]]["query_id"])
            for job_id in owned
        }
        cancelled = sum(1 for summary in summaries.values() if summary == "cancelled")
        text = f"cancelled {cancelled} job(s) this task started"
        others = [f"job {job_id} was {summary}" for job_id, summary in summaries.items() if summary != "cancelled"]
        return text + (f"; {len(others)} not: " + "; ".join(others) if others else "")

    def _wait_in_worker(self) -> None:
        state = self._require_state()
        hook = self._get_hook()
        schedule = PollSchedule(poll_interval=self.poll_interval)
        polls = 0
        while state["in_flight"]:
            submitted = len(state["queue"])
            for job_id in list(state["in_flight"]):
                query_id = state["runs"][state["in_flight"][job_id][0]]["query_id"]
                try:
                    job = hook.get_job(job_id, query_id)
                except DashJobNotFoundError as error:
                    job = Job(id=job_id, status=JobStatus.FAILED, error=str(error))
                if job.is_terminal:
                    self._record_job(job)
            self._fill_window()
            if len(state["queue"]) != submitted:
                polls = 0  # new jobs: poll them fast at first, like any new job
            if not state["in_flight"] or (not self.wait_for_completion and not state["queue"]):
                return
            if is_past(state["deadline"]):
                self._timeout()
            time.sleep(schedule.next_delay(polls, state["deadline"]))
            polls += 1

    def _defer_window(self) -> None:
        state = self._require_state()
        in_flight = state["in_flight"]
        # Imported here: it loads airflow.triggers.base, which DAG parsing never needs.
        from airflow_provider_dash.triggers.dash import JobTrigger

        self.defer(
            trigger=JobTrigger(
                job_ids=list(in_flight),
                dash_conn_id=self.dash_conn_id,
                poll_interval=self.poll_interval,
                end_time=state["deadline"],
                query_ids={job_id: state["runs"][idx[0]]["query_id"] for job_id, idx in in_flight.items()},
                owned_job_ids=[job_id for job_id in in_flight if job_id in state["owned"]],
                cancel_on_kill=self.cancel_on_kill,
                # More queries waiting: come back when any job ends so the window stays full.
                return_on_first=bool(state["queue"]),
                # fail_fast: come back at the first failure to cancel the others.
                return_on_failure=self.fail_fast,
                resume_state=state,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any], **_: Any) -> list[dict[str, Any]]:
        """Resume after :class:`JobTrigger`: record outcomes, submit the next queries, defer again or finish."""
        outcomes = read_job_event(event)
        self._state = json.loads(json.dumps(outcomes.state))  # a mutable copy
        for job in outcomes.jobs.values():
            if job.is_terminal:
                self._record_job(job)
        if outcomes.status == "error" and not outcomes.failed and outcomes.message:
            # The trigger itself failed (not a job): nothing to record per query.
            raise DashError(outcomes.message)
        if outcomes.status == "timeout":
            self._timeout()
        return self._proceed(context)

    def _timeout(self) -> None:
        state = self._require_state()
        running = [str(state["runs"][idx[0]]["query_id"]) for idx in state["in_flight"].values()]
        queued = len(state["queue"])
        cancelled = self._cancel_in_flight() or "no job this task started was running"
        raise DashTimeoutError(
            f"Refreshing the dashboard timed out after {time.time() - state['started']:.1f} s "
            f"({state['limit'] or 'deadline'}) with quer{'y' if len(running) == 1 else 'ies'} "
            f"{', '.join(running) or 'none'} still running; {cancelled}"
            + (f"; {queued} quer{'y' if queued == 1 else 'ies'} never submitted" if queued else "")
        )

    def _finish(self, context: Context, waiting: bool = True) -> list[dict[str, Any]]:
        state = self._require_state()
        if not waiting and state["in_flight"]:
            context["ti"].xcom_push(key=JOB_IDS_KEY, value=list(state["in_flight"]))
        failed = [run for run in state["runs"] if run["error"]]
        if failed:
            lines = "\n".join(f"- query {r['query_id']} (widgets {_ids(r)}): {r['error']}" for r in failed)
            raise DashError(f"{len(failed)} of {len(state['runs'])} dashboard queries failed:\n{lines}")
        return [
            {
                "query_id": r["query_id"],
                "parameters": r["parameters"],
                "query_result_id": r["query_result_id"],
                "widget_ids": r["widget_ids"],
            }
            for r in state["runs"]
        ]

    def on_kill(self) -> None:
        """Cancel the in-flight jobs this task started (worker wait), unless ``cancel_on_kill`` is False."""
        if self._state is None or not self._state["in_flight"]:
            return
        if not self.cancel_on_kill:
            self.log.info("cancel_on_kill is False: leaving %d job(s) running", len(self._state["in_flight"]))
            return
        shared = [job_id for job_id in self._state["in_flight"] if job_id not in self._state["owned"]]
        if shared:
            self.log.info(
                "Not cancelling %s: already running when this task submitted (shared by Redash with another run)",
                ", ".join(shared),
            )
        self._cancel_in_flight()


def _ids(run: Mapping[str, Any]) -> str:
    return ", ".join(str(w) for w in run["widget_ids"])
