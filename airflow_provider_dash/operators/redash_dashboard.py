"""RefreshDashboardOperator: run every query of a Redash dashboard, a window at a time, and wait for all.

The window stays in the worker: while deferred, one :class:`~airflow_provider_dash.triggers.redash.JobTrigger`
waits on the whole window and hands back as soon as a job ends, so the worker submits the next
queries (a trigger never submits).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.arguments import (
    as_max_age,
    as_parameters,
    check_max_age,
    check_parameters,
    wait_deadline,
)
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
    RedashDashboardLink,
    dashboard_page_url,
)
from airflow_provider_dash.models import Job, JobStatus
from airflow_provider_dash.models.redash import clean_job_error, job_failure_message
from airflow_provider_dash.operators._redash_dashboard_runs import collect_runs
from airflow_provider_dash.operators._redash_waiting import JOB_IDS_KEY, RedashWaitingOperator
from airflow_provider_dash.polling import PollSchedule, is_past

if TYPE_CHECKING:
    from airflow.sdk import Context


class RefreshDashboardOperator(RedashWaitingOperator):
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(dashboard, bool) or not isinstance(dashboard, (int, str)) or dashboard == "":
            raise DashConfigError(f"dashboard must be a dashboard id or slug, got {dashboard!r}")
        check_parameters(parameters)
        check_max_age(max_age)
        if isinstance(max_active_queries, bool) or not isinstance(max_active_queries, int) or max_active_queries < 1:
            raise DashConfigError(f"max_active_queries must be a whole number >= 1, got {max_active_queries!r}")
        self.dashboard = dashboard
        self.parameters = parameters
        self.max_age = max_age
        self.max_active_queries = max_active_queries
        self.fail_fast = fail_fast
        self._state: dict[str, Any] | None = None

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
        overrides = as_parameters(self.parameters)
        runs = collect_runs(dashboard.widgets, overrides)
        self.log.info(
            "Dashboard %s (%r): %d distinct quer%s from %d widget(s)",
            dashboard.id,
            dashboard.name,
            len(runs),
            "y" if len(runs) == 1 else "ies",
            sum(len(r["widget_ids"]) for r in runs),
        )
        deadline, limit = wait_deadline(context, self.timeout, self.execution_timeout)
        self._state = {
            "dashboard_id": dashboard.id,
            "runs": [{**run, "error": None} for run in runs],
            "queue": list(range(len(runs))),
            "in_flight": {},
            "owned": [],
            "deadline": deadline,
            "limit": limit,
            "started": time.time(),
        }
        return self._proceed(context)

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
        max_age = as_max_age(self.max_age)
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
                run["job_id"] = job.id
                continue
            state["in_flight"][job.id] = [index]
            run["job_id"] = job.id
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
        from airflow_provider_dash.triggers.redash import JobTrigger

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
        self._lineage_record_refresh(context, state["dashboard_id"], state["runs"])
        return [
            {
                "query_id": r["query_id"],
                "parameters": r["parameters"],
                "query_result_id": r["query_result_id"],
                "widget_ids": r["widget_ids"],
            }
            for r in state["runs"]
        ]

    def _lineage_query_ids(self) -> list[int]:
        """The dashboard's queries, once collected (a failure before that has no inputs to name)."""
        return [int(r["query_id"]) for r in (self._state or {}).get("runs", [])]

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
