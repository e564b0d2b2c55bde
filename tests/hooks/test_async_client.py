"""DashAsyncClient against the emulator: the same routes, errors and retries as the sync hook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from airflow_provider_dash.exceptions import DashAuthError, DashConnectionError, DashJobNotFoundError
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.hooks.dash_async import DashAsyncClient
from airflow_provider_dash.models import JobStatus

from .conftest import HookFactory, count, query_api_key, set_connection

T = TypeVar("T")
NUMBER_ONLY = 7
UNKNOWN_JOB = "00000000-0000-0000-0000-000000000000"


def run(conn_id: str, body: Callable[[DashAsyncClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with await DashAsyncClient.from_conn_id(conn_id) as client:
            return await body(client)

    return asyncio.run(main())


def test_from_conn_id_reads_the_airflow_connection(make_hook: HookFactory) -> None:
    hook = make_hook(retries=3, timeout=7)
    client_config = run(hook.dash_conn_id, lambda client: asyncio.sleep(0, client.config))
    assert client_config == hook.config


def test_get_job_follows_a_job_to_its_result(hook: DashHook) -> None:
    run_ = hook.execute_query(NUMBER_ONLY, {"min_amount": 100})
    assert run_.job is not None
    job_id = run_.job.id

    async def poll(client: DashAsyncClient) -> Any:
        for _ in range(200):
            job = await client.get_job(job_id)
            if job.is_terminal:
                return job
            await asyncio.sleep(0.05)
        raise AssertionError("job never finished")

    job = run(hook.dash_conn_id, poll)
    assert job.status is JobStatus.FINISHED
    assert job.query_result_id is not None


def test_cancel_job(hook: DashHook) -> None:
    slow = hook.create_query(name="slow async", query="select pg_sleep(30) as s", data_source_id=1)
    run_ = hook.execute_query(slow.id)
    assert run_.job is not None
    job_id = run_.job.id

    async def cancel(client: DashAsyncClient) -> Any:
        await client.cancel_job(job_id, slow.id)
        return await client.get_job(job_id, slow.id)

    assert run(hook.dash_conn_id, cancel).is_cancelled


def test_unknown_job_is_job_not_found_after_a_bounded_number_of_requests(make_hook: HookFactory, emulator: Any) -> None:
    hook = make_hook(retries=1)
    with pytest.raises(DashJobNotFoundError, match=f"job {UNKNOWN_JOB} not found or expired"):
        run(hook.dash_conn_id, lambda client: client.get_job(UNKNOWN_JOB))
    assert count(emulator, route="/api/jobs/{job_id}", status=500) == 2


def test_5xx_is_retried(make_hook: HookFactory, emulator: Any) -> None:
    emulator.faults.configure(routes=["/api/jobs/{job_id}"], error_rate=1.0, error_statuses=(502,))
    hook = make_hook(retries=2)
    with pytest.raises(Exception, match="HTTP 502"):
        run(hook.dash_conn_id, lambda client: client.get_job(UNKNOWN_JOB))
    assert count(emulator, route="/api/jobs/{job_id}", status=502) == 3


def test_query_key_uses_the_query_scoped_route(make_hook: HookFactory, emulator: Any) -> None:
    user_hook = make_hook()
    run_ = user_hook.execute_query(NUMBER_ONLY, {"min_amount": 450})
    assert run_.job is not None
    job_id = run_.job.id
    hook = make_hook(key=query_api_key(emulator, NUMBER_ONLY), query_id=NUMBER_ONLY)
    job = run(hook.dash_conn_id, lambda client: client.get_job(job_id))
    assert job.id == job_id
    assert count(emulator, route="/api/queries/{query_id}/jobs/{job_id}", status=200) == 1
    no_query_id = make_hook(key=query_api_key(emulator, NUMBER_ONLY))
    with pytest.raises(DashAuthError):
        run(no_query_id.dash_conn_id, lambda client: client.get_job(job_id))


def test_down_server(monkeypatch: pytest.MonkeyPatch, free_port: int) -> None:
    base = f"http://127.0.0.1:{free_port}"
    set_connection(monkeypatch, "dash_async_down", base, "down-key-123", retries=1)
    with pytest.raises(DashConnectionError, match=f"No answer from {base}"):
        run("dash_async_down", lambda client: client.get_job(UNKNOWN_JOB))


def test_requests_in_flight_from_one_loop_are_capped_and_a_poll_is_built_once(
    hook: DashHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many triggers in one triggerer loop: at most [dash] max_requests_in_flight requests at a time to one
    # server, so answers arriving together cannot pile into one loop turn (benchmarks.triggerer).
    import httpx
    import tenacity

    run_ = hook.execute_query(NUMBER_ONLY, {"min_amount": 100})
    assert run_.job is not None
    job_id = run_.job.id
    monkeypatch.setenv("AIRFLOW__DASH__MAX_REQUESTS_IN_FLIGHT", "3")
    in_flight, most = 0, 0
    sent: list[int] = []
    real_send = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        sent.append(id(request))
        try:
            await asyncio.sleep(0.01)
            return await real_send(self, request, **kwargs)
        finally:
            in_flight -= 1

    def no_retry_machinery(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a successful poll built the retry machinery")

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    monkeypatch.setattr(tenacity, "AsyncRetrying", no_retry_machinery)

    async def main() -> list[Any]:
        clients = [await DashAsyncClient.from_conn_id(hook.dash_conn_id) for _ in range(12)]
        try:
            jobs = []
            for _ in range(2):
                jobs += await asyncio.gather(*(client.get_job(job_id) for client in clients))
            return jobs
        finally:
            for client in clients:
                await client.aclose()

    jobs = asyncio.run(main())
    assert [job.id for job in jobs] == [job_id] * 24
    assert most == 3
    assert len(sent) == 24
    assert len(set(sent)) == 12  # each client built its poll once and sent it twice
