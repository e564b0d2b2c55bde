"""JobTrigger run directly in an event loop against the emulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airflow_provider_dash.events import read_job_event
from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.polling import deadline_after
from airflow_provider_dash.triggers.dash import JobTrigger

PLAIN, SLOW, FAILING = 1, 3, 4


def _submit(hook: Any, query_id: int) -> str:
    run = hook.execute_query(query_id, max_age=0)
    assert run.job is not None
    return str(run.job.id)


def _rebuild(trigger: JobTrigger) -> JobTrigger:
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_dash.triggers.redash.JobTrigger"
    return JobTrigger(**json.loads(json.dumps(kwargs)))  # plain JSON, as the triggerer stores it


async def _first_event(trigger: JobTrigger) -> dict[str, Any]:
    gen: Any = trigger.run()
    try:
        event = await gen.__anext__()
    finally:
        await gen.aclose()
        await trigger.cleanup()
    return dict(event.payload)


def test_waits_on_several_jobs_at_once_and_reports_each(dash_emulator: Any, dash_conn_id: str, dash_hook: Any) -> None:
    dash_emulator.time_scale = 20
    jobs = {_submit(dash_hook, SLOW): SLOW, _submit(dash_hook, PLAIN): PLAIN}
    trigger = JobTrigger(list(jobs), dash_conn_id=dash_conn_id, poll_interval=0.2, query_ids=jobs)

    outcomes = read_job_event(asyncio.run(_first_event(_rebuild(trigger))))

    assert outcomes.status == "success"
    assert set(outcomes.jobs) == set(jobs)
    for job_id in jobs:
        assert outcomes.result_id(job_id) == dash_emulator.job(job_id)["query_result_id"]
    # Query-scoped job routes were used (the only ones a query key may read).
    assert dash_emulator.counters.requests(route="/api/jobs/{job_id}") == 0


def test_a_trigger_rebuilt_mid_wait_still_completes(dash_emulator: Any, dash_conn_id: str, dash_hook: Any) -> None:
    dash_emulator.time_scale = 10  # the 5 s query takes 0.5 s
    job_id = _submit(dash_hook, SLOW)
    trigger = JobTrigger([job_id], dash_conn_id=dash_conn_id, poll_interval=0.1, end_time=deadline_after(60))

    async def interrupted() -> None:
        # The triggerer stops (restart, redistribution) while the job is still running.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_first_event(trigger), timeout=0.15)

    asyncio.run(interrupted())
    assert dash_emulator.job(job_id)["status"] in (1, 2)

    outcomes = read_job_event(asyncio.run(_first_event(_rebuild(trigger))))

    assert outcomes.status == "success"
    assert outcomes.result_id(job_id) == dash_emulator.job(job_id)["query_result_id"]


def test_failed_job_gives_an_error_event_with_redashs_text(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    job_id = _submit(dash_hook, FAILING)
    trigger = JobTrigger([job_id], dash_conn_id=dash_conn_id, poll_interval=0.1, query_ids={job_id: FAILING})

    outcomes = read_job_event(asyncio.run(_first_event(trigger)))

    assert outcomes.status == "error"
    [failed] = outcomes.failed
    assert 'column "no_such_column" does not exist' in outcomes.failure_message(failed)
    assert f"of query {FAILING}" in outcomes.failure_message(failed)


def test_unknown_job_ends_as_failed_instead_of_crashing(dash_emulator: Any, dash_conn_id: str) -> None:
    trigger = JobTrigger(["no-such-job"], dash_conn_id=dash_conn_id, poll_interval=0.1)

    outcomes = read_job_event(asyncio.run(_first_event(trigger)))

    assert outcomes.status == "error"
    assert "not found or expired" in outcomes.jobs["no-such-job"].error


def test_an_unusable_connection_gives_an_error_event(dash_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DASH_BROKEN", json.dumps({"conn_type": "dash", "host": dash_emulator.url}))
    trigger = JobTrigger(["some-job"], dash_conn_id="dash_broken", poll_interval=0.1)

    outcomes = read_job_event(asyncio.run(_first_event(trigger)))

    assert outcomes.status == "error"
    assert "no API key" in outcomes.message


def test_deadline_gives_a_timeout_event_and_leaves_the_job_running(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    job_id = _submit(dash_hook, SLOW)
    trigger = JobTrigger([job_id], dash_conn_id=dash_conn_id, poll_interval=0.1, end_time=deadline_after(0.3))

    outcomes = read_job_event(asyncio.run(_first_event(trigger)))

    assert outcomes.status == "timeout"
    assert outcomes.pending == [job_id]
    assert dash_emulator.job(job_id)["status"] == 2  # the trigger only waits; the task decides to cancel


def test_return_on_first_yields_when_one_job_ends(dash_emulator: Any, dash_conn_id: str, dash_hook: Any) -> None:
    fast, slow = _submit(dash_hook, PLAIN), _submit(dash_hook, SLOW)
    trigger = JobTrigger([fast, slow], dash_conn_id=dash_conn_id, poll_interval=0.1, return_on_first=True)

    outcomes = read_job_event(asyncio.run(_first_event(trigger)))

    assert outcomes.status == "success"
    assert outcomes.result_id(fast) is not None
    assert outcomes.pending == [slow]


def test_resume_state_comes_back_untouched(dash_emulator: Any, dash_conn_id: str, dash_hook: Any) -> None:
    job_id = _submit(dash_hook, PLAIN)
    state = {"runs": [{"query_id": 1, "parameters": {"a": [1, 2]}}], "deadline": None}
    trigger = JobTrigger([job_id], dash_conn_id=dash_conn_id, poll_interval=0.1, resume_state=state)

    assert read_job_event(asyncio.run(_first_event(_rebuild(trigger)))).state == state


async def _kill(trigger: JobTrigger) -> None:
    """What the triggerer does when a user kills the deferred task: cancel run(), on_kill(), cleanup()."""
    task = asyncio.create_task(_first_event(trigger))
    await asyncio.sleep(0)  # let run() start
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await trigger.on_kill()
    await trigger.cleanup()


def test_on_kill_cancels_owned_jobs_only(dash_emulator: Any, dash_conn_id: str, dash_hook: Any) -> None:
    dash_emulator.workers = 4
    dash_emulator.set_query_delay(7, 5)
    owned = _submit(dash_hook, SLOW)
    shared = _submit(dash_hook, 7)  # another run started this one
    trigger = JobTrigger([owned, shared], dash_conn_id=dash_conn_id, poll_interval=0.1, owned_job_ids=[owned])

    asyncio.run(_kill(_rebuild(trigger)))

    assert dash_emulator.job(owned)["error"] == "Query cancelled by user."
    assert dash_emulator.job(shared)["status"] in (1, 2, 3)


def test_on_kill_with_cancel_on_kill_false_cancels_nothing(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    job_id = _submit(dash_hook, SLOW)
    trigger = JobTrigger(
        [job_id], dash_conn_id=dash_conn_id, poll_interval=0.1, owned_job_ids=[job_id], cancel_on_kill=False
    )

    asyncio.run(_kill(trigger))

    # Queued or running (a busy machine may not have started it yet), but never cancelled (4).
    assert dash_emulator.job(job_id)["status"] in (1, 2)
    assert dash_emulator.counters.requests(route="/api/jobs/{job_id}", method="DELETE") == 0


def test_needs_job_ids() -> None:
    with pytest.raises(DashConfigError, match="job_ids"):
        JobTrigger([])


def test_a_trigger_serialised_by_an_older_release_still_loads() -> None:
    # Deferred tasks stored before the move name the old module path; the triggerer must rebuild them.
    import importlib

    old = importlib.import_module("airflow_provider_dash.triggers.dash").JobTrigger
    rebuilt = old(["some-job"], dash_conn_id="dash_default")
    assert type(rebuilt) is JobTrigger
    assert rebuilt.serialize()[0] == "airflow_provider_dash.triggers.redash.JobTrigger"
