"""The one shape and reader of :class:`~airflow_provider_dash.triggers.posthog.EndpointRunTrigger` events.

::

    {"status": "success" | "error" | "timeout",
     "message": str,
     "summary": RunSummary.to_json() | None,    # never the rows
     "error": {"status": int | None, "code": str | None, "field": str | None} | None}

Stdlib and the models only: the operator imports it on resume, without the trigger's Airflow imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_dash.event_envelope import EventStatus, event_status
from airflow_provider_dash.exceptions import DashApiError, DashError, DashResponseError, DashTimeoutError
from airflow_provider_dash.models.posthog import RunSummary

RunStatus = EventStatus


def run_event(
    status: RunStatus, message: str, summary: RunSummary | None = None, error: BaseException | None = None
) -> dict[str, Any]:
    """An event payload (plain JSON)."""
    detail = None
    if isinstance(error, DashApiError):
        detail = {"status": error.status, "code": error.code, "field": error.field}
    return {
        "status": status,
        "message": message,
        "summary": summary.to_json() if summary is not None else None,
        "error": detail,
    }


@dataclass(frozen=True)
class RunOutcome:
    """What a trigger event says about the run."""

    status: RunStatus
    message: str
    summary: RunSummary | None
    error: Mapping[str, Any] | None = None

    def raise_for_status(self) -> RunSummary:
        """The summary of a successful run.

        :raises DashTimeoutError: the run passed its deadline (the message says what the cancel did).
        :raises DashApiError: PostHog refused the run (status, code and field kept).
        :raises DashError: the trigger failed otherwise.
        """
        if self.status == "timeout":
            raise DashTimeoutError(self.message or "The endpoint run timed out")
        if self.status == "error":
            if self.error:
                raise DashApiError(
                    self.message,
                    status=self.error.get("status"),
                    code=self.error.get("code"),
                    field=self.error.get("field"),
                )
            raise DashError(self.message or "The trigger failed without saying why")
        if self.summary is None:
            raise DashResponseError("The trigger event reports success without a run summary")
        return self.summary


def read_run_event(event: Any) -> RunOutcome:
    """Validate an event and return its outcome.

    :raises DashResponseError: when the event does not have the trigger's shape.
    """
    status = event_status(event)
    summary = event.get("summary")
    if summary is not None and not isinstance(summary, Mapping):
        raise DashResponseError(f"The trigger event's summary is not an object: {summary!r}")
    error = event.get("error")
    return RunOutcome(
        status=status,
        message=str(event.get("message") or ""),
        summary=RunSummary.from_json(summary) if summary is not None else None,
        error=error if isinstance(error, Mapping) else None,
    )
