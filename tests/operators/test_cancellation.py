"""Cancelling as a real Redash allows it: only ``DELETE /api/jobs/<id>``, only with a user key, read back after.

Recordings: ``job_cancel_routes_user_key.json`` (the query-scoped DELETE answers 500 and the job runs
on) and ``job_cancel_query_api_key.json`` (a query key cannot cancel at all). Every test checks the
route the cancel went to, through the emulator's request counters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from dag_helpers import job_id_pushed, make_context, run_in_thread, run_inline

from airflow_provider_dash.exceptions import DashJobCancelledError, DashJobFailedError, DashTimeoutError
from airflow_provider_dash.hooks._api import CancelState
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.hooks.dash_async import DashAsyncClient
from airflow_provider_dash.operators.dash import RefreshDashboardOperator, RunQueryOperator
from airflow_provider_dash.triggers.dash import JobTrigger

PLAIN, SLOW, FAILING = 1, 3, 4
CANCEL_ROUTE = "/api/jobs/{job_id}"
QUERY_SCOPED = "/api/queries/{query_id}/jobs/{job_id}"
CANCELLED = "Query cancelled by user."
MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]


def deletes(emu: Any, route: str, status: int | None = None) -> int:
    return int(emu.counters.requests(route=route, method="DELETE", status=status))


def assert_cancelled_through_the_jobs_route(emu: Any, job_id: str) -> None:
    assert emu.job(job_id)["error"] == CANCELLED
    assert deletes(emu, CANCEL_ROUTE, 200) >= 1
    assert deletes(emu, QUERY_SCOPED) == 0  # the route a real Redash answers 500 to, leaving the job running


# ---------------------------------------------------------------- user key: every path cancels


@pytest.mark.parametrize("deferrable", MODES)
def test_timeout_cancels_through_delete_api_jobs(dash_emulator: Any, dash_conn_id: str, deferrable: bool) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    operator = RunQueryOperator(
        task_id="run", query_id=SLOW, timeout=0.5, poll_interval=0.1, deferrable=deferrable, dash_conn_id=dash_conn_id
    )
    context = make_context()

    with pytest.raises(DashTimeoutError, match="the job was cancelled"):
        run_inline(operator, context)

    assert_cancelled_through_the_jobs_route(dash_emulator, context["ti"].xcoms["job_id"])


def test_on_kill_cancels_through_delete_api_jobs(dash_emulator: Any, dash_conn_id: str) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    operator = RunQueryOperator(task_id="run", query_id=SLOW, poll_interval=0.1, dash_conn_id=dash_conn_id)
    context = make_context()
    pushed = job_id_pushed(context)

    thread, outcome = run_in_thread(operator, context)
    assert pushed.wait(10)
    operator.on_kill()
    thread.join(10)

    assert isinstance(outcome[0], DashJobCancelledError)
    assert_cancelled_through_the_jobs_route(dash_emulator, context["ti"].xcoms["job_id"])


def test_trigger_on_kill_cancels_through_delete_api_jobs(
    dash_emulator: Any, dash_conn_id: str, dash_hook: DashHook
) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    run = dash_hook.execute_query(SLOW)
    assert run.job is not None
    trigger = JobTrigger(
        [run.job.id],
        dash_conn_id=dash_conn_id,
        poll_interval=0.1,
        query_ids={run.job.id: SLOW},
        owned_job_ids=[run.job.id],
    )

    async def kill() -> None:
        task = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(0)  # run() starts polling
        task.cancel()
        await trigger.on_kill()
        await trigger.cleanup()

    asyncio.run(kill())

    assert_cancelled_through_the_jobs_route(dash_emulator, run.job.id)


@pytest.mark.parametrize("deferrable", MODES)
def test_fail_fast_cancels_the_other_queries_through_delete_api_jobs(
    dash_emulator: Any, dash_conn_id: str, deferrable: bool
) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    dashboard = int(dash_emulator.add_dashboard("Failing", [SLOW, FAILING]))
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=dashboard,
        fail_fast=True,
        deferrable=deferrable,
        poll_interval=0.1,
        dash_conn_id=dash_conn_id,
    )

    with pytest.raises(DashJobFailedError, match=r"fail_fast: cancelled 1 job\(s\)"):
        run_inline(operator, make_context())

    slow_jobs = [job for job in dash_emulator.jobs.jobs() if job.query_id == SLOW]
    assert len(slow_jobs) == 1
    assert_cancelled_through_the_jobs_route(dash_emulator, slow_jobs[0].id)


# ---------------------------------------------------------------- query key: cannot cancel, says so


def test_query_key_timeout_warns_sends_no_cancel_and_says_the_job_may_still_run(
    dash_emulator: Any, dash_connection: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    dash_emulator.set_query_delay(PLAIN, 60)
    conn_id = dash_connection("dash_qkey", key=dash_emulator.query_key(PLAIN), query_id=PLAIN, retries=3)
    operator = RunQueryOperator(task_id="run", query_id=PLAIN, timeout=0.5, poll_interval=0.1, dash_conn_id=conn_id)
    context = make_context()

    with pytest.raises(DashTimeoutError) as raised:
        run_inline(operator, context)

    job_id = context["ti"].xcoms["job_id"]
    text = str(raised.value)
    assert "may still be running on the server" in text
    assert "a query API key cannot cancel jobs" in text
    warnings = [line for line in capfd.readouterr().out.splitlines() if "[warning" in line and job_id in line]
    assert len(warnings) == 1
    assert f"Job {job_id} of query {PLAIN} was not cancelled" in warnings[0]
    assert "use a user API key" in warnings[0] or "put a user API key" in warnings[0]
    assert deletes(dash_emulator, CANCEL_ROUTE) == deletes(dash_emulator, QUERY_SCOPED) == 0  # nothing spent
    assert dash_emulator.job(job_id)["status"] == 2  # still running, as the text says


def test_undeclared_query_key_tries_one_cancel_never_retries_and_remembers(
    dash_emulator: Any, dash_connection: Any
) -> None:
    dash_emulator.set_query_delay(PLAIN, 60)
    conn_id = dash_connection("dash_qkey", key=dash_emulator.query_key(PLAIN), retries=3)  # no extra query_id
    with DashHook(conn_id) as hook:
        job = hook.execute_query(PLAIN, check_parameters=False, parameters={}).job
        assert job is not None

        first = hook.cancel_job(job.id, PLAIN)
        second = hook.cancel_job(job.id, PLAIN)

    assert first.state is second.state is CancelState.REFUSED
    assert "it is not a user key" in first.reason
    assert deletes(dash_emulator, CANCEL_ROUTE) == deletes(dash_emulator, CANCEL_ROUTE, 404) == 1  # one try, no retry
    assert deletes(dash_emulator, QUERY_SCOPED) == 0
    assert dash_emulator.job(job.id)["status"] == 2


def test_query_key_connection_test_says_it_cannot_cancel(dash_emulator: Any, dash_connection: Any) -> None:
    conn_id = dash_connection("dash_qkey", key=dash_emulator.query_key(PLAIN), query_id=PLAIN)

    ok, message = DashHook(conn_id).test_connection()

    assert ok
    assert "cannot cancel jobs" in message


def test_async_client_with_a_query_key_refuses_without_a_request(dash_emulator: Any, dash_connection: Any) -> None:
    dash_emulator.set_query_delay(PLAIN, 60)
    conn_id = dash_connection("dash_qkey", key=dash_emulator.query_key(PLAIN), query_id=PLAIN)
    job = DashHook(conn_id).execute_query(PLAIN, {}, check_parameters=False).job
    assert job is not None

    async def cancel() -> Any:
        async with await DashAsyncClient.from_conn_id(conn_id) as client:
            return await client.cancel_job(job.id, PLAIN)

    outcome = asyncio.run(cancel())

    assert outcome.state is CancelState.REFUSED
    assert "may still be running on the server" in outcome.summary
    assert dash_emulator.counters.requests(method="DELETE") == 0


# ---------------------------------------------------------------- what the server says afterwards


def test_cancel_reads_back_cancelled(dash_emulator: Any, dash_hook: DashHook) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    job = dash_hook.execute_query(SLOW).job
    assert job is not None

    outcome = dash_hook.cancel_job(job.id, SLOW)

    assert (outcome.state, outcome.summary) == (CancelState.CANCELLED, "cancelled")
    assert outcome.job is not None
    assert outcome.job.error == CANCELLED


def test_cancel_of_a_job_that_finished_meanwhile_says_so_not_not_found(dash_emulator: Any, dash_hook: DashHook) -> None:
    job = dash_hook.execute_query(PLAIN, max_age=0).job
    assert job is not None
    finished = dash_hook.wait_for_job(job.id, query_id=PLAIN, poll_interval=0.1)

    outcome = dash_hook.cancel_job(job.id, PLAIN)

    assert outcome.state is CancelState.ENDED
    assert f"finished with result {finished.query_result_id}" in outcome.summary
    assert "not found" not in outcome.summary
    assert deletes(dash_emulator, CANCEL_ROUTE, 500) == 1  # Redash's answer for a job that ended: not retried


def test_cancel_answered_500_while_the_job_runs_on_says_it_may_still_run(
    dash_emulator: Any, dash_connection: Any
) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    conn_id = dash_connection("dash_flaky", retries=3)
    with DashHook(conn_id) as hook:
        job = hook.execute_query(SLOW).job
        assert job is not None
        dash_emulator.set_faults(error_rate=1.0, error_statuses=(500,), routes=[CANCEL_ROUTE], methods=["DELETE"])

        outcome = hook.cancel_job(job.id, SLOW)

    assert outcome.state is CancelState.RUNNING
    assert "answered HTTP 500 to the cancel, but the job still reports STARTED" in outcome.summary
    assert outcome.summary.endswith("it may still be running on the server")
    assert deletes(dash_emulator, CANCEL_ROUTE) == 1


def test_async_cancel_reads_back_like_the_hook(dash_emulator: Any, dash_conn_id: str, dash_hook: DashHook) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    running = dash_hook.execute_query(SLOW).job
    ended = dash_hook.execute_query(PLAIN, max_age=0).job
    assert running is not None
    assert ended is not None
    dash_hook.wait_for_job(ended.id, query_id=PLAIN, poll_interval=0.1)

    async def cancel_both() -> tuple[Any, Any]:
        async with await DashAsyncClient.from_conn_id(dash_conn_id) as client:
            return await client.cancel_job(running.id, SLOW), await client.cancel_job(ended.id, PLAIN)

    first, second = asyncio.run(cancel_both())

    assert (first.state, second.state) == (CancelState.CANCELLED, CancelState.ENDED)
    assert deletes(dash_emulator, QUERY_SCOPED) == 0


# ---------------------------------------------------------------- whose job is it


def test_own_job_already_started_when_the_post_answers_is_still_cancelled(
    dash_emulator: Any, dash_conn_id: str
) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    dash_emulator.jobs_start_at_once = True  # an idle worker took it before Redash answered
    operator = RunQueryOperator(task_id="run", query_id=SLOW, timeout=0.5, poll_interval=0.1, dash_conn_id=dash_conn_id)
    context = make_context()

    with pytest.raises(DashTimeoutError, match="the job was cancelled"):
        run_inline(operator, context)

    assert_cancelled_through_the_jobs_route(dash_emulator, context["ti"].xcoms["job_id"])


def test_own_job_whose_first_answer_was_lost_is_still_ours_after_the_retry(
    dash_emulator: Any, dash_hook: DashHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_dash import retry

    dash_emulator.jobs_start_at_once = True
    # The first answer is cut short after the server made (and started) the job; the retry waits
    # over a second, so the job started whole seconds before the retry reached the server.
    dash_emulator.set_faults(malformed_next=1)
    monkeypatch.setattr(retry, "BACKOFF_BASE", 3.0)

    run = dash_hook.execute_sql("select 1 as one, pg_sleep(60)", 1, max_age=0)

    assert dash_emulator.counters.requests(route="/api/query_results", method="POST") == 2
    assert run.job is not None
    assert dash_emulator.job(run.job.id)["status"] == 2
    assert run.shared is False


def test_job_of_another_run_started_earlier_is_shared_and_left_alone(
    dash_emulator: Any, dash_conn_id: str, dash_hook: DashHook, capfd: pytest.CaptureFixture[str]
) -> None:
    dash_emulator.set_query_delay(SLOW, 60)
    dash_emulator.jobs_start_at_once = True
    other = dash_hook.execute_query(SLOW).job  # another run of the same SQL, running for 30 s already:
    assert other is not None
    assert other.started_at is not None
    dash_emulator.jobs.get(other.id).started_at -= dt.timedelta(seconds=30)
    operator = RunQueryOperator(task_id="run", query_id=SLOW, timeout=0.5, poll_interval=0.1, dash_conn_id=dash_conn_id)

    with pytest.raises(DashTimeoutError, match="shared with another run"):
        run_inline(operator, make_context())

    assert dash_emulator.job(other.id)["status"] == 2
    assert deletes(dash_emulator, CANCEL_ROUTE) == 0
    assert "Redash shares one job" in capfd.readouterr().out
