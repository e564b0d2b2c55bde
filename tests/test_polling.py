"""The one polling schedule: fast first polls, capped back-off, absolute deadlines."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.polling import PollSchedule, check_poll_interval, check_timeout, earliest


def test_schedule_starts_fast_and_caps_at_poll_interval() -> None:
    schedule = PollSchedule(poll_interval=10)
    delays = [schedule.delay(n) for n in range(30)]
    assert delays[0] <= 0.25
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == 10


def test_long_query_costs_few_polls_with_default_interval() -> None:
    schedule = PollSchedule()
    elapsed, polls = 0.0, 0
    while elapsed < 600:
        elapsed += schedule.delay(polls)
        polls += 1
    assert polls <= 40


def test_next_delay_never_sleeps_past_the_deadline() -> None:
    schedule = PollSchedule(poll_interval=30)
    assert schedule.next_delay(20, deadline=105.0, now=100.0) == 5.0
    assert schedule.next_delay(20, deadline=99.0, now=100.0) == 0.0


@pytest.mark.parametrize("bad", [0, -1, "5", None, True])
def test_non_positive_or_non_numeric_poll_interval_is_rejected(bad: object) -> None:
    with pytest.raises(DashConfigError, match="poll_interval must be a number of seconds > 0"):
        check_poll_interval(bad)  # type: ignore[arg-type]


def test_timeout_accepts_none_and_timedelta() -> None:
    from datetime import timedelta

    assert check_timeout(None) is None
    assert check_timeout(timedelta(minutes=2)) == 120.0
    with pytest.raises(DashConfigError, match="timeout"):
        check_timeout(-3)


def test_earliest_ignores_missing_deadlines() -> None:
    assert earliest(None, 5.0, 3.0) == 3.0
    assert earliest(None, None) is None
