"""Outages, stuck jobs, kills, restarts and expired jobs: bounded waits, cancelled jobs, no re-runs."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from dag_helpers import make_context, run_in_thread, run_inline, run_trigger

from airflow_provider_dash.exceptions import DashConnectionError, DashJobNotFoundError, DashTimeoutError
from airflow_provider_dash.operators.dash import RefreshDashboardOperator, RunQueryOperator
from airflow_provider_dash.sensors.dash import JobSensor
from airflow_provider_dash.triggers.dash import JobTrigger

from .conftest import apply_faults, set_dash_connection

CANCELLED = "Query cancelled by user."


def hold_the_queue(emu: Any) -> None:
    """Keep every job submitted from now on queued (status 1): no emulator worker runs jobs."""
    emu.workers = 0


def test_redash_down_at_start_and_back_5_s_later_with_the_default_retry_budget(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_dash_connection(monkeypatch, "dash_restart", emu.url, emu.user_key)  # default retries (5)
    emu.go_down()
    back = threading.Timer(5.0, emu.come_up)  # a real outage: an external event the task cannot await
    back.start()
    try:
        started = time.monotonic()
        result_id = RunQueryOperator(
            task_id="run", query_id=emu.query_ids["count"], poll_interval=0.2, dash_conn_id="dash_restart"
        ).execute(make_context())
    finally:
        back.join()
    assert time.monotonic() - started >= 5.0
    assert emu.results.get(result_id) is not None
    assert emu.counters.executions(emu.query_ids["count"]) == 1


def test_redash_down_longer_than_the_retry_budget_names_the_base_url_and_last_error(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_dash_connection(monkeypatch, "dash_down", emu.url, emu.user_key, retries=1)
    emu.go_down()
    with pytest.raises(DashConnectionError) as caught:
        RunQueryOperator(task_id="run", query_id=1, dash_conn_id="dash_down").execute(make_context())
    text = str(caught.value)
    assert f"No answer from {emu.url}" in text
    assert "after 2 attempt(s); last error:" in text
    assert "Connection refused" in text or "Failed to establish" in text


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferrable"])
def test_job_stuck_queued_past_timeout_is_cancelled(emu: Any, conn_id: str, deferrable: bool) -> None:
    hold_the_queue(emu)
    context = make_context()
    operator = RunQueryOperator(
        task_id="run",
        query_id=emu.query_ids["count"],
        timeout=1,
        poll_interval=0.2,
        deferrable=deferrable,
        dash_conn_id=conn_id,
    )
    with pytest.raises(DashTimeoutError, match=r"did not finish within .*the job was cancelled"):
        run_inline(operator, context)
    job = emu.job(context["ti"].xcoms["job_id"])
    assert (job["status"], job["error"]) == (4, CANCELLED)
    assert len(emu.jobs.jobs()) == 1


def test_dashboard_stuck_queued_past_timeout_cancels_its_jobs(emu: Any, conn_id: str) -> None:
    hold_the_queue(emu)
    operator = RefreshDashboardOperator(
        task_id="refresh", dashboard=emu.dashboard_id, timeout=1, poll_interval=0.2, dash_conn_id=conn_id
    )
    with pytest.raises(DashTimeoutError, match=r"cancelled 3 job\(s\) this task started"):
        operator.execute(make_context())
    assert [job.error for job in emu.jobs.jobs()] == [CANCELLED] * 3


def test_dashboard_worker_killed_mid_wait_cancels_its_jobs(emu: Any, conn_id: str) -> None:
    hold_the_queue(emu)
    operator = RefreshDashboardOperator(
        task_id="refresh", dashboard=emu.dashboard_id, poll_interval=0.2, timeout=30, dash_conn_id=conn_id
    )
    thread, _ = run_in_thread(operator, make_context())
    deadline = time.monotonic() + 10
    while emu.counters.in_flight < 3 and time.monotonic() < deadline:
        time.sleep(0.02)  # the emulator has no event for "a job was queued"
    operator.on_kill()
    thread.join(30)
    assert not thread.is_alive()
    assert [job.error for job in emu.jobs.jobs()] == [CANCELLED] * 3


def test_deferred_task_killed_cancels_its_job_but_not_a_shared_one(
    emu: Any, conn_id: str, hook: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    hold_the_queue(emu)
    shared = hook.execute_query(emu.query_ids["total"]).job
    owned = hook.execute_query(emu.query_ids["count"]).job
    trigger = JobTrigger(
        [owned.id, shared.id],
        dash_conn_id=conn_id,
        poll_interval=0.2,
        query_ids={owned.id: emu.query_ids["count"], shared.id: emu.query_ids["total"]},
        owned_job_ids=[owned.id],
    )

    async def kill_mid_wait() -> None:
        task = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(0.3)  # the trigger is mid-wait: polling a job that cannot start
        task.cancel()
        await trigger.on_kill()
        await trigger.cleanup()

    asyncio.run(kill_mid_wait())
    assert emu.job(owned.id)["error"] == CANCELLED
    assert emu.job(shared.id)["status"] == 1  # left queued for whoever else waits on it
    logged = capfd.readouterr().out
    assert f"Not cancelling {shared.id}" in logged
    assert "Redash shares one job" in logged


def test_trigger_rebuilt_from_its_kwargs_mid_wait_completes_through_faults(emu: Any, conn_id: str, hook: Any) -> None:
    hold_the_queue(emu)
    job = hook.execute_query(emu.query_ids["count"]).job
    original = JobTrigger(
        [job.id],
        dash_conn_id=conn_id,
        poll_interval=0.2,
        end_time=time.time() + 60,
        query_ids={job.id: emu.query_ids["count"]},
        owned_job_ids=[job.id],
    )

    async def run_then_lose_the_triggerer() -> None:
        task = asyncio.ensure_future(original.run().__anext__())
        await asyncio.sleep(0.5)
        task.cancel()  # the triggerer process dies: no on_kill, no event
        await original.cleanup()

    asyncio.run(run_then_lose_the_triggerer())
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_dash.triggers.redash.JobTrigger"
    emu.workers = 2  # the queue moves again
    apply_faults(emu, rate_limit_every=4)
    event = run_trigger(JobTrigger(**json.loads(json.dumps(kwargs))))
    assert event["status"] == "success"
    assert event["jobs"][job.id]["query_result_id"] == emu.job(job.id)["query_result_id"]
    assert emu.counters.executions(emu.query_ids["count"]) == 1


def test_expired_job_ends_the_wait_with_not_found_after_a_bounded_number_of_tries(
    emu: Any, hook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_dash_connection(monkeypatch, "dash_expiry", emu.url, emu.user_key, retries=2)
    emu.job_ttl = 0.2
    job = hook.execute_query(emu.query_ids["count"]).job
    hook.wait_for_job(job.id, query_id=emu.query_ids["count"], poll_interval=0.1)
    deadline = time.monotonic() + 5
    while emu.job(job.id) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # emulated expiry: no event for it
    route = "/api/jobs/{job_id}"

    before = emu.counters.requests(route=route)
    sensor = JobSensor(task_id="wait", job_id=job.id, poll_interval=0.2, deferrable=True, dash_conn_id="dash_expiry")
    with pytest.raises(DashJobNotFoundError, match=rf"job {job.id} not found or expired"):
        run_inline(sensor, make_context())
    assert emu.counters.requests(route=route) - before == 3  # 1 + retries, then a clear failure

    before = emu.counters.requests(route=route)
    event = run_trigger(JobTrigger([job.id], dash_conn_id="dash_expiry", poll_interval=0.2))
    assert event["status"] == "error"
    assert "not found or expired" in event["jobs"][job.id]["error"]
    assert emu.counters.requests(route=route) - before == 3
