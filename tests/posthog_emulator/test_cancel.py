"""Slow runs, and cancelling one in flight through ``DELETE /query/{id}`` (REFERENCE.md §2.11, §3.1,
§7 rules 14-16)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

from .conftest import Api, envelope, seed, wait_for


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


@pytest.fixture
def slow(posthog_emulator_factory: Callable[..., PostHogEmulator], http: httpx.Client) -> Api:
    """A seeded emulator at time_scale 100 whose ``daily_signups`` takes an emulated hour (36 s real)."""
    emu = seed(posthog_emulator_factory(time_scale=100))
    emu.set_endpoint_delay("daily_signups", 3600)
    return Api(http, emu)


def test_delete_query_cancels_a_held_run(slow: Api, pool: ThreadPoolExecutor) -> None:
    started = time.monotonic()
    held = pool.submit(slow.run, body={"client_query_id": "q-1"})
    wait_for(lambda: "q-1" in slow.emu.in_flight())
    cancel = slow.delete("query/q-1/")
    assert (cancel.status_code, cancel.json()) == (200, {"message": "Cancelled query on clickhouse"})
    answer = held.result(timeout=10)
    assert envelope(answer) == (500, "server_error", "error", "A server error occurred.", None)
    assert time.monotonic() - started < 10  # not the 36 s the run would have taken
    assert slow.emu.in_flight() == []
    assert slow.emu.counters.executions("daily_signups") == 0


def test_a_cancelled_run_leaves_nothing_in_the_cache(slow: Api, pool: ThreadPoolExecutor) -> None:
    held = pool.submit(slow.run, body={"client_query_id": "q-1"})
    wait_for(lambda: slow.emu.in_flight())
    slow.delete("query/q-1/")
    held.result(timeout=10)
    slow.emu.set_endpoint_delay("daily_signups", 0)
    assert slow.run().json()["is_cached"] is False


def test_cancel_through_the_environments_prefix(slow: Api, pool: ThreadPoolExecutor) -> None:
    held = pool.submit(slow.run, body={"client_query_id": "q-env"})
    wait_for(lambda: slow.emu.in_flight())
    assert slow.delete("query/q-env", prefix="environments").status_code == 200
    assert held.result(timeout=10).status_code == 500


def test_cancel_of_another_project_leaves_the_run_alone(slow: Api, pool: ThreadPoolExecutor) -> None:
    slow.emu.time_scale = 14_400  # the run now takes 0.25 s real
    other = slow.emu.add_project()
    held = pool.submit(slow.run, body={"client_query_id": "q-1"})
    wait_for(lambda: slow.emu.in_flight())
    assert slow.delete("query/q-1/", project_id=other).status_code == 200
    assert held.result(timeout=10).status_code == 200


def test_cancel_of_an_unknown_id_still_answers_200(api: Api) -> None:
    response = api.delete("query/never-seen/")
    assert (response.status_code, response.json()) == (200, {"message": "Cancelled query on clickhouse"})


def test_dequeue_only_leaves_a_running_query_alone(slow: Api, pool: ThreadPoolExecutor) -> None:
    slow.emu.time_scale = 14_400  # the run now takes 0.25 s real
    held = pool.submit(slow.run, body={"client_query_id": "q-1"})
    wait_for(lambda: slow.emu.in_flight())
    response = slow.delete("query/q-1/", params={"dequeue_only": "true"})
    assert response.json() == {"message": "Only tried to dequeue, not cancelling query on clickhouse"}
    assert held.result(timeout=10).status_code == 200


def test_a_run_without_client_query_id_is_registered_under_a_generated_id(slow: Api, pool: ThreadPoolExecutor) -> None:
    held = pool.submit(slow.run)
    ids = wait_for(lambda: slow.emu.in_flight())
    assert len(ids[0]) == 32
    slow.delete(f"query/{ids[0]}/")
    assert held.result(timeout=10).status_code == 500


def test_status_of_a_synchronous_run_is_404(api: Api, emu: PostHogEmulator) -> None:
    api.run(body={"client_query_id": "q-1"})
    response = api.get("query/q-1/")
    assert envelope(response) == (
        404,
        "invalid_request",
        "not_found",
        f"Query q-1 not found for team {emu.project_id}",
        None,
    )


def test_time_scale_shortens_a_slow_run(
    posthog_emulator_factory: Callable[..., PostHogEmulator], http: httpx.Client
) -> None:
    api = Api(http, seed(posthog_emulator_factory(time_scale=200)))
    api.emu.set_endpoint_delay("daily_signups", 40)  # 0.2 s real
    started = time.monotonic()
    assert api.run().status_code == 200
    assert 0.15 <= time.monotonic() - started < 5
