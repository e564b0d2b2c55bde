"""The envelope of every trigger event of the provider (ground, product-neutral): a JSON object with a status.

Each product's reader (:mod:`airflow_provider_dash.events` for Redash jobs,
:mod:`airflow_provider_dash.triggers._posthog_events` for PostHog runs) checks the envelope here,
then reads its own fields. Stdlib and the exceptions only: the readers run in the worker on resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from airflow_provider_dash.exceptions import DashResponseError

EventStatus = Literal["success", "error", "timeout"]
EVENT_STATUSES: tuple[str, ...] = ("success", "error", "timeout")


def event_status(event: Any) -> EventStatus:
    """The status of trigger event ``event``, once it is known to be a JSON object with a known status.

    :raises DashResponseError: when it is not an object, or its status is not one of :data:`EVENT_STATUSES`.
    """
    if not isinstance(event, Mapping):
        raise DashResponseError(f"The trigger event is not a JSON object: {event!r}")
    status = event.get("status")
    if status not in EVENT_STATUSES:
        raise DashResponseError(f"The trigger event has an unknown status {status!r}: {event!r}")
    return status
