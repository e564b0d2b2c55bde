"""The one reader of :class:`~airflow_provider_dash.triggers.redash.JobTrigger` events.

The trigger yields one event for all the jobs it waited on::

    {"status": "success" | "error" | "timeout",
     "jobs": {job_id: {"status": int, "query_result_id": int | None, "error": str, "query_id": int | None}},
     "message": str,
     "state": dict | None}   # what the task handed the trigger to resume with, untouched

:func:`read_job_event` checks that shape and turns it into :class:`JobOutcomes`; the operators and
the sensor all read events through it, so an event is judged the same way everywhere and a failed
job is described by the one text of :func:`~airflow_provider_dash.models.redash.job_failure_message`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dash.event_envelope import EVENT_STATUSES as EVENT_STATUSES
from airflow_provider_dash.event_envelope import EventStatus, event_status
from airflow_provider_dash.exceptions import DashError, DashResponseError, DashTimeoutError
from airflow_provider_dash.models import Job, JobStatus
from airflow_provider_dash.models.redash import job_failure_message, raise_for_job


def job_entry(job: Job, query_id: int | None = None) -> dict[str, Any]:
    """The event's plain-JSON entry for ``job``."""
    return {"status": int(job.status), "query_result_id": job.query_result_id, "error": job.error, "query_id": query_id}


def job_event(
    status: EventStatus,
    jobs: Mapping[str, Job],
    message: str,
    state: Mapping[str, Any] | None = None,
    query_ids: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Build an event payload (used by the trigger; plain JSON). ``state`` is the task's resume state."""
    query_ids = query_ids or {}
    return {
        "status": status,
        "jobs": {job_id: job_entry(job, query_ids.get(job_id)) for job_id, job in jobs.items()},
        "message": message,
        "state": dict(state) if state is not None else None,
    }


@dataclass(frozen=True, slots=True)
class JobOutcomes:
    """What a trigger event says about its jobs.

    :ivar status: ``success`` (every job finished with a result), ``error`` or ``timeout``.
    :ivar jobs: the last known state of every job, by job id.
    :ivar message: the trigger's summary.
    :ivar query_ids: the query of each job, where known (for the failure texts).
    :ivar state: the resume state the task gave the trigger (``{}`` when none).
    """

    status: EventStatus
    jobs: Mapping[str, Job]
    message: str = ""
    query_ids: Mapping[str, int] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> list[str]:
        """Ids of the jobs not yet terminal (more work for a later trigger, or timed out)."""
        return [job_id for job_id, job in self.jobs.items() if not job.is_terminal]

    @property
    def failed(self) -> list[Job]:
        """Jobs that ended without a result (failed or cancelled)."""
        return [job for job in self.jobs.values() if job.is_terminal and not job.succeeded]

    def result_id(self, job_id: str) -> int | None:
        """The result id of ``job_id`` when it finished, else ``None``."""
        job = self.jobs.get(job_id)
        return job.query_result_id if job is not None and job.succeeded else None

    def failure_message(self, job: Job) -> str:
        """The one text for a failed or cancelled job (job id, query id and Redash's error)."""
        return job_failure_message(job, self.query_ids.get(job.id))

    def raise_for_failures(self) -> None:
        """Raise for the first failed job, then for a trigger error or a timeout; return if all succeeded.

        :raises DashJobFailedError: a job failed (Redash's error text).
        :raises DashJobCancelledError: a job was cancelled.
        :raises DashTimeoutError: the wait passed its deadline (the event's message).
        :raises DashError: the trigger itself failed (the event's message).
        """
        for job in self.failed:
            raise_for_job(job, self.query_ids.get(job.id))
            # A FINISHED job without a result id cannot be parsed, so this is only reached for
            # shapes raise_for_job does not judge; fail anyway rather than return no result.
            raise DashError(self.failure_message(job))
        if self.status == "timeout":
            raise DashTimeoutError(self.message or "The wait for the job timed out")
        if self.status == "error":
            raise DashError(self.message or "The trigger failed without saying why")


def read_job_event(event: Any) -> JobOutcomes:
    """Validate a :class:`JobTrigger` event and return its outcomes (raises nothing about the jobs).

    Use :meth:`JobOutcomes.raise_for_failures` to turn failures into the provider's exceptions.

    :param event: the event payload handed to ``execute_complete``.
    :return: the outcomes.
    :raises DashResponseError: when the event does not have the trigger's shape.
    """
    status = event_status(event)
    message = event.get("message") or ""
    raw_jobs = event.get("jobs")
    if not isinstance(raw_jobs, Mapping):
        raise DashResponseError(f"The trigger event has no 'jobs' object: {event!r}")
    jobs: dict[str, Job] = {}
    query_ids: dict[str, int] = {}
    for job_id, raw in raw_jobs.items():
        if not isinstance(raw, Mapping):
            raise DashResponseError(f"The trigger event's entry for job {job_id} is not an object: {raw!r}")
        jobs[str(job_id)] = _job(str(job_id), raw)
        query_id = raw.get("query_id")
        if isinstance(query_id, int) and not isinstance(query_id, bool):
            query_ids[str(job_id)] = query_id
    state = event.get("state") or {}
    if not isinstance(state, Mapping):
        raise DashResponseError(f"The trigger event's 'state' is not an object: {state!r}")
    return JobOutcomes(status=status, jobs=jobs, message=str(message), query_ids=query_ids, state=state)


def _job(job_id: str, raw: Mapping[str, Any]) -> Job:
    raw_status = raw.get("status")
    try:
        if isinstance(raw_status, bool) or not isinstance(raw_status, int):
            raise ValueError(raw_status)
        status = JobStatus(raw_status)
    except ValueError:
        raise DashResponseError(
            f"The trigger event gives job {job_id} an unknown status {raw.get('status')!r}"
        ) from None
    result_id = raw.get("query_result_id")
    if result_id is not None and (isinstance(result_id, bool) or not isinstance(result_id, int)):
        raise DashResponseError(f"The trigger event gives job {job_id} a bad query_result_id {result_id!r}")
    if status is JobStatus.FINISHED and result_id is None:
        raise DashResponseError(f"The trigger event says job {job_id} finished but names no query_result_id")
    return Job(id=job_id, status=status, error=str(raw.get("error") or ""), query_result_id=result_id)
