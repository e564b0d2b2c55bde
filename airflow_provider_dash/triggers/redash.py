"""JobTrigger: waits in the triggerer on one or many Redash jobs and reports them in one event.

The trigger only polls. It never submits a query, so a restarted triggerer that runs it again
cannot run a query twice; its one other side effect is cancelling the jobs its task owns when a
user kills the task (:meth:`JobTrigger.on_kill`, Airflow 3.3+).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_dash.events import EventStatus, job_event
from airflow_provider_dash.exceptions import DashAuthError, DashConfigError, DashError, DashJobNotFoundError
from airflow_provider_dash.models import Job, JobStatus
from airflow_provider_dash.polling import DEFAULT_POLL_INTERVAL, PollSchedule, check_poll_interval, is_past
from airflow_provider_dash.triggers._client import TriggerClientMixin

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_async import DashAsyncClient


class JobTrigger(TriggerClientMixin["DashAsyncClient"], BaseTrigger):
    """Poll Redash jobs until they are all terminal (or some are, see ``return_on_first``) or a deadline.

    Every tick polls all the still-pending jobs concurrently with one HTTP client kept for the
    trigger's life; the delays between ticks follow the shared
    :class:`~airflow_provider_dash.polling.PollSchedule`. The trigger yields exactly one event,
    read by :func:`~airflow_provider_dash.events.read_job_event`::

        {"status": "success" | "error" | "timeout",
         "jobs": {job_id: {"status": int, "query_result_id": int | None, "error": str, "query_id": int | None}},
         "message": str,
         "state": resume_state}

    A job whose id is unknown or expired, or that the key may not read, ends as failed (status 4)
    with the server's message. Transient errors are retried by the client's retry policy; any other
    error ends the wait with an ``error`` event rather than a crashed trigger.

    :param job_ids: the Redash job ids to wait on.
    :param dash_conn_id: the Airflow connection of the server.
    :param poll_interval: the longest pause between two polls, in seconds.
    :param end_time: absolute deadline in epoch seconds (``None``: no limit); a trigger rebuilt by a
        restarted triggerer resumes with the time that is really left.
    :param query_ids: the query of each job, so the query-scoped job route is used (the only one a
        query API key may read).
    :param owned_job_ids: the jobs the task started itself; only those are cancelled on kill.
    :param cancel_on_kill: cancel the owned, unfinished jobs when a user kills the task.
    :param return_on_first: yield as soon as at least one job is terminal (the caller has more work
        waiting and wants to keep its window of running queries full) instead of waiting for all.
    :param return_on_failure: yield as soon as one job failed or was cancelled (the caller stops at
        the first failure) instead of waiting for the others.
    :param resume_state: plain JSON the task needs to resume, handed back untouched in the event's
        ``state``. The event is the one channel every runner keeps: ``dag.test()`` drops the
        ``kwargs`` given to ``defer()``.
    """

    def __init__(
        self,
        job_ids: Sequence[str],
        dash_conn_id: str = "dash_default",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        end_time: float | None = None,
        query_ids: Mapping[str, int] | None = None,
        owned_job_ids: Sequence[str] | None = None,
        cancel_on_kill: bool = True,
        return_on_first: bool = False,
        return_on_failure: bool = False,
        resume_state: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(job_ids, str):
            job_ids = [job_ids]
        if not job_ids or not all(isinstance(j, str) and j for j in job_ids):
            raise DashConfigError(f"job_ids must be a non-empty list of job id strings, got {job_ids!r}")
        self.job_ids = list(dict.fromkeys(job_ids))
        self.dash_conn_id = dash_conn_id
        self.poll_interval = check_poll_interval(poll_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.query_ids = {str(k): int(v) for k, v in (query_ids or {}).items()}
        self.owned_job_ids = [j for j in (owned_job_ids or []) if j in self.job_ids]
        self.cancel_on_kill = bool(cancel_on_kill)
        self.return_on_first = bool(return_on_first)
        self.return_on_failure = bool(return_on_failure)
        self.resume_state = dict(resume_state) if resume_state is not None else None
        self._jobs: dict[str, Job] = {job_id: Job(id=job_id, status=JobStatus.QUEUED) for job_id in self.job_ids}

    @classmethod
    def for_job(
        cls,
        job_id: str,
        query_id: int,
        *,
        owned: bool,
        dash_conn_id: str,
        poll_interval: float,
        end_time: float | None,
        cancel_on_kill: bool = True,
        resume_state: Mapping[str, Any] | None = None,
    ) -> JobTrigger:
        """The trigger waiting on one job of a query; ``owned`` says whether a kill may cancel it.

        The state handed back in the event holds ``job_id``, ``query_id`` and ``owned``, plus
        ``resume_state``.
        """
        return cls(
            job_ids=[job_id],
            dash_conn_id=dash_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            query_ids={job_id: query_id},
            owned_job_ids=[job_id] if owned else [],
            cancel_on_kill=cancel_on_kill,
            resume_state={"job_id": job_id, "query_id": query_id, "owned": owned, **(resume_state or {})},
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and plain-JSON keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_ids": list(self.job_ids),
                "dash_conn_id": self.dash_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "query_ids": dict(self.query_ids),
                "owned_job_ids": list(self.owned_job_ids),
                "cancel_on_kill": self.cancel_on_kill,
                "return_on_first": self.return_on_first,
                "return_on_failure": self.return_on_failure,
                "resume_state": self.resume_state,
            },
        )

    async def _open_client(self) -> DashAsyncClient:
        # httpx is imported with the client, only in the triggerer: the operator and sensor
        # modules import this one on every DAG parse.
        from airflow_provider_dash.hooks.redash_async import DashAsyncClient

        return await DashAsyncClient.from_conn_id(self.dash_conn_id)

    async def _poll(self, client: DashAsyncClient, job_id: str) -> Job:
        try:
            return await client.get_job(job_id, self.query_ids.get(job_id))
        except (DashJobNotFoundError, DashAuthError) as error:
            # Waiting longer cannot help: the job is gone or unreadable. End it as failed.
            return Job(id=job_id, status=JobStatus.FAILED, error=str(error))

    def _event(self, status: EventStatus, message: str) -> TriggerEvent:
        return TriggerEvent(job_event(status, self._jobs, message, self.resume_state, self.query_ids))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the jobs are terminal or the deadline passes, then yield one event."""
        schedule = PollSchedule(poll_interval=self.poll_interval)
        started = time.time()
        polls = 0
        try:
            client = await self._get_client()
            while True:
                pending = [job_id for job_id in self.job_ids if not self._jobs[job_id].is_terminal]
                if len(pending) == 1:  # the usual case: no task and no gather per poll
                    polled = [await self._poll(client, pending[0])]
                else:
                    polled = await asyncio.gather(*(self._poll(client, job_id) for job_id in pending))
                for job in polled:
                    self._jobs[job.id] = job
                event = self._decide(started)
                if event is not None:
                    break
                await asyncio.sleep(schedule.next_delay(polls, self.end_time))
                polls += 1
        except DashError as error:
            event = self._event("error", f"Waiting on {self._names()} failed: {error}")
        except Exception as error:
            # Anything unexpected still ends the task with a readable reason instead of leaving it
            # to the triggerer's generic failure.
            self.log.exception("JobTrigger failed while polling %s", self._names())
            event = self._event("error", f"Waiting on {self._names()} failed: {type(error).__name__}: {error}")
        try:
            yield event
        finally:
            # Runners that never call cleanup() (dag.test()'s inline triggers) close the generator
            # after the event; release the HTTP client then too.
            await self._close_client()

    def _decide(self, started: float) -> TriggerEvent | None:
        jobs = list(self._jobs.values())
        done = [job for job in jobs if job.is_terminal]
        failed = [job for job in done if not job.succeeded]
        if len(done) == len(jobs):
            if failed:
                return self._event(
                    "error", f"{len(failed)} of {len(jobs)} job(s) did not finish: {self._names(failed)}"
                )
            return self._event("success", f"{self._names()} finished")
        if (self.return_on_first and done) or (self.return_on_failure and failed):
            return self._event(
                "error" if failed else "success",
                f"{len(done)} of {len(jobs)} job(s) ended; {len(jobs) - len(done)} still running",
            )
        if is_past(self.end_time):
            pending = [job for job in jobs if not job.is_terminal]
            return self._event(
                "timeout",
                f"Timed out after {time.time() - started:.1f} s in this trigger with {self._names(pending)} "
                f"still running (deadline {self.end_time})",
            )
        return None

    def _names(self, jobs: Sequence[Job] | None = None) -> str:
        ids = [job.id for job in jobs] if jobs is not None else self.job_ids
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        return f"job{'s' if len(ids) != 1 else ''} {shown}"

    async def on_kill(self) -> None:
        """Cancel the owned jobs not yet terminal, unless ``cancel_on_kill`` is false (Airflow 3.3+).

        Jobs this task did not start (Redash shares one job between identical runs in flight) are
        left alone. Errors are logged, not raised: the task is being killed anyway.
        """
        if not self.cancel_on_kill:
            self.log.info("cancel_on_kill is False: leaving %s running", self._names())
            return
        owned = [job_id for job_id in self.owned_job_ids if not self._jobs[job_id].is_terminal]
        shared = [job_id for job_id in self.job_ids if job_id not in self.owned_job_ids]
        if shared:
            self.log.info(
                "Not cancelling %s: they were already running when the task submitted (Redash shares one job "
                "between identical runs), so another run may be waiting on them",
                ", ".join(shared),
            )
        if not owned:
            return
        client = await self._get_client()

        async def cancel(job_id: str) -> None:
            try:
                await client.cancel_job(job_id, self.query_ids.get(job_id))  # logs the outcome
            except DashError as error:
                self.log.warning("Could not cancel job %s: %s; it may still be running on the server", job_id, error)

        await asyncio.gather(*(cancel(job_id) for job_id in owned))
