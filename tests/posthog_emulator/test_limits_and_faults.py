"""Rate limits, the concurrency gate and injected faults of the emulator (REFERENCE.md §6, §2.6 step 11,
§7 rules 17-19)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from airflow_provider_dash.testing import FaultConfig
from airflow_provider_dash.testing.posthog import Limits, PostHogEmulator

from .conftest import Api, envelope, seed, wait_for

THROTTLED = re.compile(r"^Request was throttled\. Expected available in (\d+) seconds?\.$")


@pytest.fixture
def limited(posthog_emulator_factory: Callable[..., PostHogEmulator], http: httpx.Client) -> Api:
    """A seeded emulator allowing 3 requests a minute per credential."""
    return Api(http, seed(posthog_emulator_factory(limits=Limits(burst=3))))


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def test_burst_limit_answers_429_with_the_wait_and_no_retry_after(limited: Api) -> None:
    for _ in range(3):
        assert limited.run().status_code == 200
    response = limited.run()
    status, type_, code, detail, attr = envelope(response)
    assert (status, type_, code, attr) == (429, "throttled_error", "throttled", None)
    match = THROTTLED.match(detail)
    assert match is not None, detail
    assert 1 <= int(match.group(1)) <= 60
    assert "Retry-After" not in response.headers


def test_retry_after_is_sent_when_enabled(limited: Api) -> None:
    limited.emu.limits.retry_after_header = True
    for _ in range(3):
        limited.run()
    response = limited.run()
    wait = THROTTLED.match(response.json()["detail"])
    assert wait is not None
    assert response.headers["Retry-After"] == wait.group(1)


def test_crud_and_runs_share_one_bucket(limited: Api) -> None:
    limited.get("endpoints/")
    limited.get("endpoints/daily_signups/")
    limited.run()
    assert limited.get("endpoints/").status_code == 429


def test_rate_limits_are_per_key(limited: Api) -> None:
    other = limited.emu.add_personal_key()
    for _ in range(4):
        limited.run()
    assert limited.run(key=other).status_code == 200


def test_the_window_frees_up_as_time_passes(limited: Api) -> None:
    for _ in range(3):
        limited.run()
    assert limited.run().status_code == 429
    limited.emu.advance(61)
    assert limited.run().status_code == 200


def test_sustained_limit_applies_too(
    posthog_emulator_factory: Callable[..., PostHogEmulator], http: httpx.Client
) -> None:
    api = Api(http, seed(posthog_emulator_factory(limits=Limits(burst=100, sustained=2))))
    api.run()
    api.run()
    api.emu.advance(61)  # the burst window is long gone, the hour is not
    response = api.run()
    assert response.status_code == 429
    assert int(THROTTLED.match(response.json()["detail"]).group(1)) > 60  # type: ignore[union-attr]


def test_secret_keys_of_a_project_share_a_bucket(limited: Api) -> None:
    second = limited.emu.add_secret_key()
    for _ in range(3):
        limited.run(key=limited.emu.secret_key)
    assert limited.run(key=second).status_code == 429


def test_materialized_runs_count_in_their_own_bucket(limited: Api) -> None:
    limited.emu.limits.materialized_burst = 5
    limited.emu.materialize("daily_signups")
    body = {"variables": {"country": "US"}}
    for _ in range(5):
        assert limited.run(body=body).status_code == 200
    assert limited.run(body=body).status_code == 429
    assert limited.get("endpoints/").status_code == 200  # the inline bucket is untouched


def test_unauthenticated_requests_do_not_count(limited: Api) -> None:
    for _ in range(5):
        limited.run(headers={})
    assert limited.run().status_code == 200


def test_concurrency_limit_answers_429_without_a_wait(api: Api, emu: PostHogEmulator, pool: ThreadPoolExecutor) -> None:
    emu.set_endpoint_delay("daily_signups", 3600)
    held = [pool.submit(api.run, body={"client_query_id": f"q{i}", "refresh": "force"}) for i in range(3)]
    wait_for(lambda: len(emu.in_flight()) == 3)
    response = api.run(body={"refresh": "force"})
    assert envelope(response) == (
        429,
        "throttled_error",
        "throttled",
        "Too many concurrent requests. Please try again later.",
        None,
    )
    assert "Retry-After" not in response.headers
    assert api.run().status_code == 429  # nothing cached yet: this run must compute too
    for i in range(3):
        api.delete(f"query/q{i}/")
    assert [f.result().status_code for f in held] == [500, 500, 500]


def test_a_run_waits_for_a_free_slot_when_allowed(
    posthog_emulator_factory: Callable[..., PostHogEmulator], http: httpx.Client, pool: ThreadPoolExecutor
) -> None:
    emu = seed(posthog_emulator_factory(limits=Limits(concurrency=1, concurrency_wait=30), time_scale=100))
    api = Api(http, emu)
    emu.set_endpoint_delay("daily_signups", 10)  # 0.1 s real
    first: Future[httpx.Response] = pool.submit(api.run, body={"refresh": "force"})
    wait_for(lambda: emu.in_flight())
    second = api.run(body={"refresh": "force"})
    assert (first.result().status_code, second.status_code) == (200, 200)
    assert emu.counters.max_in_flight == 1


def test_capacity_fault_is_503_query_capacity(api: Api, emu: PostHogEmulator) -> None:
    emu.fail_next_runs("query_capacity")
    status, type_, code, detail, _attr = envelope(api.run())
    assert (status, type_, code) == (503, "server_error", "query_capacity")
    assert detail.startswith("Queries are a little too busy right now.")
    assert api.run().status_code == 200  # one fault, used up


@pytest.mark.parametrize("code", ["query_timeout", "query_memory_limit", "query_too_large", "query_estimated_too_slow"])
def test_guardrail_faults_are_400_server_errors(api: Api, emu: PostHogEmulator, code: str) -> None:
    emu.fail_next_runs(code)
    assert envelope(api.run())[:3] == (400, "server_error", code)


def test_server_error_fault_is_500(api: Api, emu: PostHogEmulator) -> None:
    emu.fail_next_runs("server_error")
    assert envelope(api.run()) == (500, "server_error", "error", "A server error occurred.", None)


def test_run_faults_can_target_one_endpoint(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("other", "SELECT 1 AS one")
    emu.fail_next_runs("server_error", name="daily_signups")
    assert api.run("other").status_code == 200
    assert api.run().status_code == 500


def test_cache_hits_skip_run_faults(api: Api, emu: PostHogEmulator) -> None:
    api.run()
    emu.fail_next_runs("server_error")
    assert api.run().status_code == 200


def test_connection_reset_fault_drops_the_connection(api: Api, emu: PostHogEmulator) -> None:
    emu.fail_next_runs("connection_reset")
    with pytest.raises(httpx.TransportError):
        api.run()
    assert emu.counters.requests(route="/api/projects/{project_id}/endpoints/{name}/run", status=0) == 1


def test_transport_rate_limit_fault_uses_the_throttled_envelope(api: Api, emu: PostHogEmulator) -> None:
    emu.set_faults(rate_limit_every=2, retry_after=7)
    assert api.get("endpoints/").status_code == 200
    response = api.get("endpoints/")
    assert envelope(response)[3] == "Request was throttled. Expected available in 7 seconds."


@pytest.mark.parametrize(
    ("status", "path", "kind"),
    [
        (500, "endpoints/", "application/json"),
        (503, "endpoints/daily_signups/run/", "application/json"),
        (503, "endpoints/", "text/html"),
        (502, "endpoints/", "text/html"),
    ],
)
def test_transport_error_faults_look_like_posthog_or_its_gateway(
    api: Api, emu: PostHogEmulator, status: int, path: str, kind: str
) -> None:
    emu.set_faults(FaultConfig(error_rate=1.0, error_statuses=(status,)))
    response = api.call("POST" if path.endswith("run/") else "GET", path, json={} if path.endswith("run/") else None)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(kind)
    if status == 503 and kind == "application/json":
        assert response.json()["code"] == "query_capacity"


def test_malformed_fault_truncates_a_json_answer(api: Api, emu: PostHogEmulator) -> None:
    emu.set_faults(malformed_next=1)
    with pytest.raises(ValueError, match=r"\w"):  # the JSON decoder names what it expected
        api.get("endpoints/").json()
    assert api.get("endpoints/").json()["count"] == 1


def test_fault_routes_match_route_templates(api: Api, emu: PostHogEmulator) -> None:
    emu.set_faults(error_rate=1.0, error_statuses=(500,), routes=["/api/projects/{project_id}/endpoints/{name}/run"])
    assert api.get("endpoints/").status_code == 200
    assert api.run().status_code == 500


def test_latency_fault_slows_matching_requests(api: Api, emu: PostHogEmulator) -> None:
    emu.set_faults(latency=0.2, routes=["/api/projects/{project_id}/endpoints/{name}/run"])
    started = time.monotonic()
    api.get("endpoints/")
    listed = time.monotonic()
    api.run()
    ran = time.monotonic()
    assert listed - started < 0.2 <= ran - listed
