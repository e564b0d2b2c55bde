"""BoundedPool: results in input order, at most N calls at once, errors raised in order, inline with one worker."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.pool import BoundedPool


def test_results_come_in_input_order_when_calls_finish_out_of_order() -> None:
    last_done = threading.Event()

    def call(n: int) -> int:
        if n == 0:
            assert last_done.wait(10), "item 3 never ran while item 0 waited"
        if n == 3:
            last_done.set()
        return n * 10

    with BoundedPool(4) as pool:
        assert list(pool.map_ordered(call, range(4))) == [0, 10, 20, 30]


def test_no_more_calls_than_workers_run_at_once() -> None:
    lock = threading.Lock()
    running = 0
    most = 0
    gate = threading.Barrier(3, timeout=10)

    def call(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if n < 3:
            gate.wait()  # the first three meet, so three really are in flight together
        with lock:
            running -= 1
        return n

    with BoundedPool(3) as pool:
        assert list(pool.map_ordered(call, range(12))) == list(range(12))
    assert most == 3


def test_the_first_error_in_input_order_is_raised_and_later_items_are_not_all_started() -> None:
    started: list[int] = []

    def call(n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("item 2")
        return n

    with BoundedPool(2) as pool:
        results = pool.map_ordered(call, range(100), window=2)
        assert next(results) == 0
        assert next(results) == 1
        with pytest.raises(ValueError, match="item 2"):
            list(results)
    assert len(started) < 100


def test_one_worker_runs_every_call_in_the_callers_thread() -> None:
    threads = set()

    def call(n: int) -> int:
        threads.add(threading.get_ident())
        return n

    with BoundedPool(1) as pool:
        assert list(pool.map_ordered(call, range(5))) == [0, 1, 2, 3, 4]
    assert threads == {threading.get_ident()}


@pytest.mark.parametrize("workers", [0, 65, "eight", True, None])
def test_a_bad_number_of_workers_is_refused_by_name(workers: object) -> None:
    with pytest.raises(DashConfigError, match="concurrency must be a whole number from 1 to 64"):
        BoundedPool(workers)  # type: ignore[arg-type]


def test_once_an_error_is_raised_no_call_of_the_map_is_still_running() -> None:
    release = threading.Event()
    one_started = threading.Event()
    lock = threading.Lock()
    started: list[int] = []
    finished: list[int] = []

    def call(n: int) -> int:
        with lock:
            started.append(n)
        if n == 0:
            assert one_started.wait(10), "item 1 never started"
            raise ValueError("first")
        one_started.set()
        release.wait(10)
        with lock:
            finished.append(n)
        return n

    with BoundedPool(3) as pool:
        results = pool.map_ordered(call, range(3))
        threading.Timer(0.05, release.set).start()
        with pytest.raises(ValueError, match="first"):
            next(results)
        # Item 2 may have been cancelled before a worker took it; whatever started has finished.
        with lock:
            assert 1 in started
            assert sorted(finished) == sorted(n for n in started if n != 0)
