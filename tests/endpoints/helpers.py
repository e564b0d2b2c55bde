"""Small helpers of the PostHog tests: request counts by route, waiting on a condition with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RUN = "endpoints/{name}/run"
ENDPOINT = "endpoints/{name}"
ENDPOINTS = "endpoints"
QUERY = "query/{id}"


def requests(emu: Any, route: str, method: str | None = None, status: int | None = None) -> int:
    """How many requests ``emu`` answered on ``route`` (a template below the project prefix)."""
    return int(emu.counters.requests(route=f"/api/projects/{{project_id}}/{route}", method=method, status=status))


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The first truthy value of ``predicate()``; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)  # polling a condition, bounded by the deadline
    raise AssertionError("condition not reached in time")
