"""What the Redash tasks that wait on jobs share: the waiting arguments, the hook, the deferral, the job a try left.

:class:`RedashWaitingOperator` is the base of RunQueryOperator (and so of the gates and the export)
and of RefreshDashboardOperator; :class:`RedashJobTaskMixin` (its hook, made when first needed, and
the deferral of one job's wait to :class:`~airflow_provider_dash.triggers.redash.JobTrigger`) is
shared with :class:`~airflow_provider_dash.sensors.redash_checks.QueryResultSensor` too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

from airflow_provider_dash.defaults import default_deferrable
from airflow_provider_dash.lineage.redash_tasks import RedashLineageMixin
from airflow_provider_dash.polling import DEFAULT_POLL_INTERVAL, check_poll_interval, check_timeout

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_dash.hooks.redash import DashHook

#: XCom key of the job id (the query URL goes under :data:`~airflow_provider_dash.links.QUERY_URL_KEY`).
JOB_ID_KEY = "job_id"
#: XCom key of the in-flight job ids a dashboard refresh left running (``wait_for_completion=False``).
JOB_IDS_KEY = "job_ids"
#: ``task_state_store`` key of the job a RunQueryOperator try submitted (read by the next try).
STORED_JOB_KEY = "dash_job"

_state_store_warned = False


def make_hook(conn_id: str) -> DashHook:
    """A new :class:`~airflow_provider_dash.hooks.redash.DashHook` on connection ``conn_id``."""
    # The hook pulls in requests and tenacity: imported when a task runs, not when a DAG is parsed.
    from airflow_provider_dash.hooks.redash import DashHook

    return DashHook(dash_conn_id=conn_id)


class StoredJob:
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


class RedashJobTaskMixin(RedashLineageMixin):
    """The hook of a Redash task that waits on jobs, and the deferral of one job's wait; plus its lineage.

    The task class sets ``dash_conn_id`` and ``poll_interval``; Airflow's operator gives ``defer``.
    """

    dash_conn_id: str
    poll_interval: float
    _hook: DashHook | None = None

    if TYPE_CHECKING:

        def defer(
            self,
            *,
            trigger: BaseTrigger,
            method_name: str,
            kwargs: dict[str, Any] | None = None,
            timeout: timedelta | int | float | None = None,
        ) -> NoReturn: ...

    def _get_hook(self) -> DashHook:
        if self._hook is None:
            self._hook = make_hook(self.dash_conn_id)
        return self._hook

    def _defer_to_job(self, job_id: str, query_id: int, *, owned: bool, **trigger_options: Any) -> NoReturn:
        """Defer to a :class:`JobTrigger` on one job of ``query_id``; the task resumes in ``execute_complete``.

        :param owned: whether the job is this task's (a kill may cancel it) or shared with another run.
        :param trigger_options: the other arguments of :meth:`JobTrigger.for_job` (``end_time``, and
            ``cancel_on_kill`` and ``resume_state`` when given); the connection and the poll interval
            are the task's.
        """
        # Imported here: it loads airflow.triggers.base, which DAG parsing never needs.
        from airflow_provider_dash.triggers.redash import JobTrigger

        self.defer(
            trigger=JobTrigger.for_job(
                job_id,
                query_id,
                owned=owned,
                dash_conn_id=self.dash_conn_id,
                poll_interval=self.poll_interval,
                **trigger_options,
            ),
            method_name="execute_complete",
        )


class RedashWaitingOperator(RedashJobTaskMixin, BaseOperator):
    """What every Redash operator that runs queries takes for waiting and cancelling, its hook and its lineage.

    :param wait_for_completion: wait for the jobs (else return once submitted).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: the longest pause between two polls, in seconds.
    :param timeout: seconds to wait at most (a ``timedelta`` is accepted); ``None``: no limit.
    :param cancel_on_kill: cancel the jobs this task started when it is killed.
    :param dash_conn_id: the Airflow connection of the server.
    """

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = default_deferrable(),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        dash_conn_id: str = "dash_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = check_poll_interval(poll_interval)
        self.timeout = check_timeout(timeout.total_seconds() if isinstance(timeout, timedelta) else timeout)
        self.cancel_on_kill = cancel_on_kill
        self.dash_conn_id = dash_conn_id
