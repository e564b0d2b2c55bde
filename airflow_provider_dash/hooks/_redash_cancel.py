"""Cancelling a Redash job and telling whose job it is: the outcome read back, and the shared-job rule.

Shared by the sync hook and the async client (only the transport differs). Recordings:
``job_cancel_routes_user_key.json`` and ``job_cancel_query_api_key.json``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from airflow_provider_dash.exceptions import DashAuthError
from airflow_provider_dash.hooks._redash_config import ConnectionConfig
from airflow_provider_dash.hooks._redash_routes import job_what
from airflow_provider_dash.models.redash import Job, JobStatus
from airflow_provider_dash.retry import parse_http_date

#: Why a query API key cannot cancel: Redash answers its DELETE with 404 (``/api/jobs/<id>``) or
#: 500 (the query-scoped route), and the job runs on (recordings ``job_cancel_query_api_key.json``).
QUERY_KEY_CANNOT_CANCEL = (
    "a query API key cannot cancel jobs on Redash (only DELETE /api/jobs/<id> with a user API key cancels); "
    "put a user API key in the connection to let timeouts and kills cancel"
)
#: How long a cancel keeps reading the job back after Redash accepted the DELETE.
CANCEL_CONFIRM_SECONDS = 5.0


class CancelState(enum.StrEnum):
    """What a cancel achieved, as the server tells it afterwards."""

    CANCELLED = "cancelled"
    ENDED = "ended"  # the job finished or failed before the cancel took effect
    RUNNING = "running"  # the server still shows the job queued or running
    REFUSED = "refused"  # the key cannot cancel (a query API key); nothing was changed


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """The result of a cancel, read back from the server.

    :ivar job_id: the job.
    :ivar query_id: its query, when known.
    :ivar state: the :class:`CancelState`.
    :ivar reason: why it was not cancelled (``""`` when it was).
    :ivar job: the job as read back (``None`` when the cancel was refused).
    """

    job_id: str
    query_id: int | None
    state: CancelState
    reason: str = ""
    job: Job | None = None

    @property
    def cancelled(self) -> bool:
        """True when the server reports the job cancelled."""
        return self.state is CancelState.CANCELLED

    @property
    def summary(self) -> str:
        """Completes "the job was ...": ``cancelled``, or why not and whether it may still run."""
        if self.state is CancelState.CANCELLED:
            return "cancelled"
        if self.state is CancelState.ENDED:
            return f"not cancelled: {self.reason}"
        return f"not cancelled: {self.reason}; it may still be running on the server"

    @property
    def message(self) -> str:
        """One log line naming the job, its query and the outcome."""
        what = job_what(self.job_id, self.query_id)
        return f"{what[:1].upper()}{what[1:]} was {self.summary}"


def refused_cancel(job_id: str, query_id: int | None, reason: str) -> CancelOutcome:
    """The outcome of a cancel the key cannot make (nothing was sent, or Redash refused the key)."""
    return CancelOutcome(job_id, query_id, CancelState.REFUSED, reason)


def declared_query_key_refusal(config: ConnectionConfig) -> str | None:
    """Why this connection cannot cancel, when it says it holds a query API key (extra ``query_id``)."""
    if config.query_id is None:
        return None
    holds = f"connection {config.conn_id!r} holds a query API key (extra query_id={config.query_id})"
    return f"{holds}, and {QUERY_KEY_CANNOT_CANCEL}"


def auth_refusal(error: DashAuthError) -> str:
    """Why the key cannot cancel, after Redash refused the cancel's DELETE with its 404."""
    refused = f"Redash refused the key for {error.method} {error.url} (HTTP 404): it is not a user key (or is wrong)"
    return f"{refused}: {QUERY_KEY_CANNOT_CANCEL}"


def wants_read_back(job: Job, accepted: bool) -> bool:
    """True while a cancel Redash accepted has not shown on the job yet (read it again, briefly)."""
    return accepted and not job.is_terminal


def cancel_outcome(job_id: str, query_id: int | None, job: Job, accepted: bool) -> CancelOutcome:
    """Judge a cancel from the job read back after the DELETE.

    :param accepted: Redash answered the DELETE with 200. A 500 means the job had already ended,
        was already cancelled, or is unknown; the job read back tells which.
    """
    if job.is_cancelled:
        return CancelOutcome(job_id, query_id, CancelState.CANCELLED, job=job)
    if job.is_terminal:
        ended = f"finished with result {job.query_result_id}" if job.succeeded else "failed"
        return CancelOutcome(job_id, query_id, CancelState.ENDED, f"it {ended} before the cancel took effect", job)
    answer = "accepted the cancel" if accepted else "answered HTTP 500 to the cancel"
    return CancelOutcome(
        job_id, query_id, CancelState.RUNNING, f"Redash {answer}, but the job still reports {job.status.name}", job
    )


# --------------------------------------------------------------------------- shared jobs


def job_is_shared(job: Job, server_date: str | None, round_trip: float) -> bool | None:
    """Was ``job`` already running before the execute request reached the server?

    Redash hands identical SQL in flight the same job, so a job that started before our request
    arrived belongs to another run too, and cancelling it would fail that run. A job still queued
    is taken as ours (a run shared while both wait in the queue cannot be told apart). A running
    job is judged on the server's own clock: its start time (``updated_at``) against the moment
    the request arrived, which is no earlier than the answer's ``Date`` header (whole seconds,
    rounded down) minus the round trip. Only a start before that bound proves the job shared;
    a job started within about a second before the request is taken as ours.

    :param server_date: the answer's ``Date`` header, if any.
    :param round_trip: seconds from sending the request to reading the answer's headers.
    :return: ``True`` (shared), ``False`` (ours), or ``None`` when it cannot be told (no ``Date``
        header or start time); callers then treat the job as theirs and say so.
    """
    if job.status is not JobStatus.STARTED:
        return False
    started = job.started_at
    if started is None or not server_date:
        return None
    answered = parse_http_date(server_date)
    if answered is None:
        return None
    arrived_no_earlier_than = answered.timestamp() - max(0.0, round_trip)
    return started < arrived_no_earlier_than
