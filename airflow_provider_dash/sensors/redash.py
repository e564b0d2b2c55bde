"""JobSensor: wait for a Redash job in poke, reschedule or deferrable mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_dash.defaults import default_deferrable
from airflow_provider_dash.events import read_job_event
from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.models import Job
from airflow_provider_dash.models.redash import raise_for_job
from airflow_provider_dash.polling import DEFAULT_POLL_INTERVAL, check_poll_interval, deadline_after

if TYPE_CHECKING:
    from airflow.sdk import Context


class JobSensor(BaseSensorOperator):
    """Wait until a Redash job finishes and return its ``query_result_id`` (XCom ``return_value``).

    Works in ``poke`` and ``reschedule`` mode (one status check per poke) and deferred, where it
    waits through the same :class:`~airflow_provider_dash.triggers.redash.JobTrigger` as the operators,
    bounded by the sensor's ``timeout``. A failed or cancelled job fails the sensor with Redash's
    error text, or skips it with ``soft_fail=True``. The sensor never cancels the job: it did not
    start it.

    :param job_id: the job to wait on (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='run_query', key='job_id') }}"``.
    :param query_id: the job's query (templated), when known: the query-scoped job route is then
        used, the only one a query API key may read.
    :param dash_conn_id: the Airflow connection of the server.
    :param poll_interval: the longest pause between two polls while deferred, in seconds; also the
        default ``poke_interval``.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :raises DashJobFailedError: the job failed (unless ``soft_fail``).
    :raises DashJobCancelledError: the job was cancelled (unless ``soft_fail``).
    """

    template_fields: Sequence[str] = ("job_id", "query_id")
    ui_color = "#ff7667"

    def __init__(
        self,
        *,
        job_id: str,
        query_id: int | str | None = None,
        dash_conn_id: str = "dash_default",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deferrable: bool = default_deferrable(),
        **kwargs: Any,
    ) -> None:
        self.poll_interval = check_poll_interval(poll_interval)
        kwargs.setdefault("poke_interval", self.poll_interval)
        super().__init__(**kwargs)
        self.job_id = job_id
        self.query_id = query_id
        self.dash_conn_id = dash_conn_id
        self.deferrable = deferrable

    def _job_id(self) -> str:
        job_id = str(self.job_id or "").strip()
        if job_id in ("", "None"):
            raise DashConfigError(
                f"JobSensor {self.task_id}: job_id rendered empty ({self.job_id!r}); the upstream task may have "
                "answered from cache (no job) or not pushed a job id"
            )
        return job_id

    def _query_id(self) -> int | None:
        query_id = self.query_id
        if query_id is None or query_id in ("", "None"):
            return None
        if isinstance(query_id, str) and query_id.strip().isdigit():
            return int(query_id)
        if isinstance(query_id, int) and not isinstance(query_id, bool):
            return query_id
        raise DashConfigError(f"JobSensor {self.task_id}: query_id must be a query id, got {query_id!r}")

    def _fail(self, error: DashError) -> NoReturn:
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping (soft_fail): {error}") from error
        raise error

    def _judge(self, job: Job, query_id: int | None) -> int | None:
        """The result id of a finished job, ``None`` while it runs; raises (or skips) when it failed."""
        if not job.is_terminal:
            return None
        try:
            raise_for_job(job, query_id)
        except DashError as error:
            self._fail(error)
        return job.query_result_id

    def poke(self, context: Context) -> PokeReturnValue:
        """One status check: done with the result id once the job finished."""
        # The hook pulls in requests and tenacity: imported when the sensor runs, not at DAG parse.
        from airflow_provider_dash.hooks.redash import DashHook

        job_id, query_id = self._job_id(), self._query_id()
        job = DashHook(dash_conn_id=self.dash_conn_id).get_job(job_id, query_id)
        self.log.info("Job %s: %s", job_id, job.status.name)
        result_id = self._judge(job, query_id)
        return PokeReturnValue(is_done=job.is_terminal, xcom_value=result_id)

    def execute(self, context: Context) -> Any:
        """Poke or reschedule as usual; deferrable: one check, then defer to :class:`JobTrigger`."""
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done.is_done:
            return done.xcom_value
        job_id, query_id = self._job_id(), self._query_id()
        # Imported here: it loads airflow.triggers.base, which DAG parsing never needs.
        from airflow_provider_dash.triggers.redash import JobTrigger

        self.defer(
            trigger=JobTrigger(
                job_ids=[job_id],
                dash_conn_id=self.dash_conn_id,
                poll_interval=self.poll_interval,
                end_time=deadline_after(self.timeout),
                query_ids={job_id: query_id} if query_id is not None else {},
                owned_job_ids=[],
                cancel_on_kill=False,
                resume_state={"started": time.time()},
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any], **_: Any) -> int | None:
        """Resume after :class:`JobTrigger`: the result id, or fail (skip with ``soft_fail``).

        :raises AirflowSensorTimeout: the sensor's ``timeout`` passed (skipped with ``soft_fail``).
        """
        job_id = self._job_id()
        outcomes = read_job_event(event)
        if outcomes.status == "timeout":
            started = outcomes.state.get("started")
            waited = f" (waited {time.time() - started:.1f} s)" if isinstance(started, (int, float)) else ""
            # AirflowSensorTimeout: BaseSensorOperator turns it into a skip when soft_fail is set.
            raise AirflowSensorTimeout(
                f"Job {job_id} did not finish within the sensor timeout of {self.timeout:g} s{waited}"
            )
        try:
            outcomes.raise_for_failures()
        except DashError as error:
            self._fail(error)
        return outcomes.result_id(job_id)
