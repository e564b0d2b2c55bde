"""RunQueryOperator: run a saved Redash query, wait for it in the worker or the triggerer, reattach on retry.

Submission always happens in the worker; waiting happens in the worker (``deferrable=False``) or in
the triggerer through :class:`~airflow_provider_dash.triggers.redash.JobTrigger`. Both paths use the
one polling schedule of :mod:`airflow_provider_dash.polling` and read trigger events through
:func:`~airflow_provider_dash.events.read_job_event`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.arguments import (
    as_id,
    as_max_age,
    as_parameters,
    check_id,
    check_max_age,
    check_parameters,
    wait_deadline,
)
from airflow_provider_dash.events import read_job_event
from airflow_provider_dash.exceptions import (
    DashJobNotFoundError,
    DashTimeoutError,
)
from airflow_provider_dash.links import (
    QUERY_URL_KEY,
    RedashQueryLink,
    query_page_url,
)
from airflow_provider_dash.models import Job
from airflow_provider_dash.models.redash import raise_for_job
from airflow_provider_dash.operators._redash_waiting import (
    JOB_ID_KEY,
    JOB_IDS_KEY,
    STORED_JOB_KEY,
    RedashWaitingOperator,
    StoredJob,
    make_hook,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.hooks.redash import DashHook

__all__ = ["JOB_IDS_KEY", "JOB_ID_KEY", "STORED_JOB_KEY", "RedashWaitingOperator", "RunQueryOperator", "make_hook"]

_SHARED_NOT_CANCELLED = "it is shared with another run, so this task does not cancel it"


class RunQueryOperator(RedashWaitingOperator):
    """Execute a saved Redash query and return its ``query_result_id`` (XCom ``return_value``).

    Parameters not given are filled from the query's saved defaults and every value is checked
    before anything is sent. A cached answer returns its result id at once, in every mode. For a
    job, the job id (XCom ``job_id``) and the query's page (XCom ``query_url``) are pushed before
    any waiting, so the extra link and a downstream :class:`~airflow_provider_dash.sensors.redash.JobSensor`
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if query_id is not None or self._query_id_required:
            check_id(query_id)
        check_parameters(parameters)
        check_max_age(max_age)
        self.query_id = query_id
        self.parameters = parameters
        self.max_age = max_age
        # Set while a job is being waited on in the worker, for on_kill.
        self._job_id: str | None = None
        self._job_query_id: int | None = None
        self._job_owned = False
        self._lineage_job_id: str | None = None  # the run's job, for its lineage (None: a cached answer)

    def execute(self, context: Context) -> Any:
        """Execute the query (or reattach to the previous try's job), wait as configured, then :meth:`_on_result`."""
        result_id = self._run_query(context)
        if result_id is None:
            return None
        self._lineage_record(context, as_id(self.query_id), self._lineage_job_id, result_id)
        return self._on_result(context, result_id)

    def _on_result(self, context: Context, result_id: int) -> Any:
        """What to do with the finished run's result; the task's return value (XCom ``return_value``).

        Called once per successful run, from :meth:`execute` (cached answer, worker wait, reattach)
        and from :meth:`execute_complete` (after a deferral). The checks and the export override it.
        """
        return result_id

    def _run_query(self, context: Context) -> int | None:
        """Execute the query (or reattach) and wait or defer; the result id, or ``None`` when not waiting."""
        query_id = as_id(self.query_id)
        parameters = as_parameters(self.parameters)
        max_age = as_max_age(self.max_age)
        hook = self._get_hook()
        context["ti"].xcom_push(key=QUERY_URL_KEY, value=query_page_url(hook.config.base_url, query_id))
        stored = StoredJob(context, self.log)

        job = self._reattach(hook, stored, query_id)
        if job is not None and job.succeeded:
            context["ti"].xcom_push(key=JOB_ID_KEY, value=job.id)
            self._lineage_job_id = job.id
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
        self._lineage_job_id = job.id
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

    def _reattach(self, hook: DashHook, stored: StoredJob, query_id: int) -> Job | None:
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

    def _wait(self, hook: DashHook, job: Job, query_id: int, owned: bool, stored: StoredJob) -> int:
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

    def _defer(self, context: Context, hook: DashHook, job: Job, query_id: int, owned: bool, stored: StoredJob) -> int:
        # One status check first: a fast query is done by now and needs no trip through the triggerer.
        job = hook.get_job(job.id, query_id)
        if job.is_terminal:
            self._job_id = None
            raise_for_job(job, query_id)
            stored.clear()
            assert job.query_result_id is not None
            return job.query_result_id
        deadline, limit = wait_deadline(context, self.timeout, self.execution_timeout)
        # No defer timeout: the trigger's own deadline lets execute_complete cancel the job.
        self._defer_to_job(
            job.id,
            query_id,
            owned=owned,
            end_time=deadline,
            cancel_on_kill=self.cancel_on_kill,
            resume_state={"limit": limit, "started": time.time()},
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
        StoredJob(context, self.log).clear()
        result_id = outcomes.result_id(job_id)
        assert result_id is not None  # raise_for_failures raised otherwise
        self._lineage_record(context, query_id, job_id, result_id)
        return self._on_result(context, result_id)

    def _cancel_after_timeout(self, job_id: str, query_id: int, owned: bool) -> str:
        if not owned:
            return f"left running ({_SHARED_NOT_CANCELLED})"
        return make_hook(self.dash_conn_id).cancel_summary(job_id, query_id)

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
        make_hook(self.dash_conn_id).cancel_summary(job_id, query_id)  # logs the outcome
