"""The Redash hook's job work: read a job, cancel it (and read it back), wait for it."""

from __future__ import annotations

import dataclasses
import time

from airflow_provider_dash.exceptions import DashAuthError, DashError, DashJobNotFoundError, DashTimeoutError
from airflow_provider_dash.hooks import _redash_cancel as _cancel
from airflow_provider_dash.hooks._redash_routes import cancel_job_request, get_job_request, job_what
from airflow_provider_dash.hooks._redash_transport import RedashTransport
from airflow_provider_dash.models.redash import Job, raise_for_job
from airflow_provider_dash.polling import (
    DEFAULT_POLL_INTERVAL,
    PollSchedule,
    check_poll_interval,
    check_timeout,
    deadline_after,
    is_past,
)


class RedashJobs(RedashTransport):
    """Jobs on a Redash server (part of :class:`~airflow_provider_dash.hooks.redash.DashHook`)."""

    def get_job(self, job_id: str, query_id: int | None = None) -> Job:
        """A job's current state.

        :param query_id: the job's query when known: the query-scoped route is used (the only one a
            query key may read). Defaults to the connection's extra ``query_id``.
        :raises DashJobNotFoundError: when the job id is unknown or expired.
        """
        return Job.from_json(self._json(get_job_request(job_id, self._job_query_id(query_id))))

    def cancel_job(self, job_id: str, query_id: int | None = None) -> _cancel.CancelOutcome:
        """Cancel a queued or running job, then read it back and say what happened.

        Redash cancels only through ``DELETE /api/jobs/<id>`` and only with a user key (it then
        reports the job failed with "Query cancelled by user."). A connection holding a query key
        (extra ``query_id``) sends nothing: it cannot cancel. A DELETE answered 500 is not retried
        (Redash answers so for a job that already ended); the job read back tells what it is.
        The outcome is logged once: info when cancelled, a warning otherwise.

        :param query_id: the job's query (reads the job back through it; defaults to extra ``query_id``).
        :return: the :class:`~._cancel.CancelOutcome` (cancelled, ended meanwhile, still running, refused).
        :raises DashJobNotFoundError: when the server knows no such job (unknown or expired).
        :raises DashError: when the server cannot be reached.
        """
        qid = self._job_query_id(query_id)
        why = self._cancel_refusal or _cancel.declared_query_key_refusal(self.config)
        accepted = False
        if why is None:
            self.log.info("Cancelling %s", job_what(job_id, qid))
            try:
                self._send(cancel_job_request(job_id)).close()
                accepted = True
            except DashAuthError as error:
                why = self._cancel_refusal = _cancel.auth_refusal(error)
            except DashJobNotFoundError:
                accepted = False  # ended, already cancelled, or unknown: the read-back tells
        if why is not None:
            outcome = _cancel.refused_cancel(job_id, qid, why)
        else:
            outcome = self._read_back_cancel(job_id, qid, accepted)
        (self.log.info if outcome.cancelled else self.log.warning)("%s", outcome.message)
        return outcome

    def _read_back_cancel(self, job_id: str, query_id: int | None, accepted: bool) -> _cancel.CancelOutcome:
        # One retry at most: after a DELETE answered 500, an unknown job answers 500 here too.
        config = dataclasses.replace(self.config, retries=min(self.config.retries, 1))
        schedule = PollSchedule(poll_interval=1.0)
        deadline = deadline_after(_cancel.CANCEL_CONFIRM_SECONDS)
        polls = 0
        while True:
            job = Job.from_json(self._json(get_job_request(job_id, query_id), config))
            if not _cancel.wants_read_back(job, accepted) or is_past(deadline):
                return _cancel.cancel_outcome(job_id, query_id, job, accepted)
            time.sleep(schedule.next_delay(polls, deadline))
            polls += 1

    def wait_for_job(
        self,
        job_id: str,
        *,
        query_id: int | None = None,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        cancel_on_timeout: bool = True,
    ) -> Job:
        """Poll a job until it finishes (the shared :class:`PollSchedule`, absolute deadline).

        :param timeout: seconds to wait at most (``None``: no limit).
        :param poll_interval: the longest pause between two polls.
        :param cancel_on_timeout: cancel the job when the deadline passes.
        :return: the finished job (with ``query_result_id``).
        :raises DashJobFailedError: when the job failed.
        :raises DashJobCancelledError: when it was cancelled.
        :raises DashTimeoutError: on the deadline, naming the job, the query and the seconds waited.
        """
        schedule = PollSchedule(poll_interval=check_poll_interval(poll_interval))
        timeout = check_timeout(timeout)
        started = time.time()
        deadline = deadline_after(timeout, started)
        polls = 0
        while True:
            job = self.get_job(job_id, query_id)
            if job.is_terminal:
                raise_for_job(job, query_id)
                self.log.info("Job %s finished: query result %s", job.id, job.query_result_id)
                return job
            if is_past(deadline):
                waited = time.time() - started
                of_query = f" of query {query_id}" if query_id is not None else ""
                outcome = "left running"
                if cancel_on_timeout:
                    outcome = self.cancel_summary(job_id, query_id)
                raise DashTimeoutError(
                    f"Job {job_id}{of_query} did not finish within {timeout:g} s "
                    f"(waited {waited:.1f} s, last status {job.status.name}); the job was {outcome}"
                )
            time.sleep(schedule.next_delay(polls, deadline))
            polls += 1

    def cancel_summary(self, job_id: str, query_id: int | None = None) -> str:
        """Cancel a job and complete the sentence "the job was ..." for a failure text; never raises.

        :return: ``"cancelled"``, or why not, ending with "it may still be running on the server"
            when that may be so.
        """
        try:
            return self.cancel_job(job_id, query_id).summary
        except DashError as error:
            self.log.warning("Could not cancel %s: %s", job_what(job_id, query_id), error)
            return f"not cancelled ({error}); it may still be running on the server"
