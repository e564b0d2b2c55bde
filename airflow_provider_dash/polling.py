"""The one polling schedule used by the sync wait, the sensor and the trigger alike.

Polls start fast (a 0.2 s query is seen finished about 0.2 s after submission) and back off
geometrically to ``poll_interval``, so a long query costs few polls. Deadlines are absolute epoch
seconds, so a trigger rebuilt by a restarted triggerer resumes with the right time left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from airflow_provider_dash.exceptions import DashConfigError

DEFAULT_POLL_INTERVAL = 30.0
FIRST_POLL_DELAY = 0.2
BACKOFF_FACTOR = 1.5


def check_poll_interval(poll_interval: float, *, what: str = "poll_interval") -> float:
    """Return ``poll_interval`` as a float, or raise if it is not a positive number.

    :raises DashConfigError: when it is not a number > 0.
    """
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)):
        raise DashConfigError(f"{what} must be a number of seconds > 0, got {poll_interval!r}")
    if not poll_interval > 0:
        raise DashConfigError(f"{what} must be a number of seconds > 0, got {poll_interval!r}")
    return float(poll_interval)


def check_timeout(timeout: float | None, *, what: str = "timeout") -> float | None:
    """Return ``timeout`` (seconds) as a float or ``None``, or raise if it is not positive.

    :raises DashConfigError: when it is not ``None`` or a number > 0.
    """
    if timeout is None:
        return None
    if hasattr(timeout, "total_seconds"):
        timeout = timeout.total_seconds()
    return check_poll_interval(timeout, what=what)


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """Delays between polls: ``first``, then times ``factor`` each poll, capped at ``poll_interval``.

    :param poll_interval: the longest delay between two polls, in seconds.
    :param first: the first delay, in seconds (capped at ``poll_interval`` too).
    :param factor: growth of the delay from one poll to the next.
    """

    poll_interval: float = DEFAULT_POLL_INTERVAL
    first: float = FIRST_POLL_DELAY
    factor: float = BACKOFF_FACTOR

    def __post_init__(self) -> None:
        check_poll_interval(self.poll_interval)

    def delay(self, polls_done: int) -> float:
        """Seconds to wait before the next poll after ``polls_done`` polls (0-based)."""
        delay = self.first * (self.factor ** min(polls_done, 64))
        return min(delay, self.poll_interval)

    def next_delay(self, polls_done: int, deadline: float | None, now: float | None = None) -> float:
        """Like :meth:`delay` but never sleeping past ``deadline`` (epoch seconds); never negative."""
        delay = self.delay(polls_done)
        if deadline is not None:
            now = time.time() if now is None else now
            delay = min(delay, max(0.0, deadline - now))
        return delay


def deadline_after(seconds: float | None, now: float | None = None) -> float | None:
    """The absolute deadline (epoch seconds) ``seconds`` from ``now``, or ``None`` for no limit."""
    if seconds is None:
        return None
    return (time.time() if now is None else now) + seconds


def earliest(*deadlines: float | None) -> float | None:
    """The earliest of the given deadlines, ignoring ``None``; ``None`` if all are ``None``."""
    present = [d for d in deadlines if d is not None]
    return min(present) if present else None


def is_past(deadline: float | None, now: float | None = None) -> bool:
    """True when ``deadline`` (epoch seconds) has passed."""
    return deadline is not None and (time.time() if now is None else now) >= deadline
