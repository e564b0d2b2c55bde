"""Completion latency and polling cost of RunQueryOperator (worker wait and deferrable).

Method
------
* Latency: a saved query the emulator keeps running 0.2 s (``time_scale`` 1, emulator in its own
  process). ``RunQueryOperator`` with the default ``poll_interval`` (30 s) is called in-process
  ``RUNS`` times per mode; the time from submission (the task pushes the job id to XCom right after
  the POST answers) to the task returning is measured. Budget: the slowest run returns within 1 s
  of submission.
* Polling cost of a 600 s query, two ways:

  - the schedule: :class:`~airflow_provider_dash.polling.PollSchedule` with the default poll
    interval, stepped in arithmetic until a poll falls at or after 600 s (plus the one status
    check a deferrable task makes before deferring);
  - a real run in emulated time: the emulator runs with ``time_scale`` 60 (600 s pass in 10 s) and
    the client, in a child process, gets the same clock: its ``time.time``, ``time.sleep`` and
    ``asyncio.sleep`` are scaled by 60, so the operator's code runs unchanged with its default
    30 s poll interval and 0.2 s first delay, in emulated seconds. The status GETs are the
    emulator's own count of job-route requests.

  Budget: at most 40 status polls (the larger of the two real runs).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from typing import Any

from benchmarks.emulator_proc import EmulatorProcess
from benchmarks.report import Figure, budget, info

NAME = "latency"
CONN_ID = "dash_bench_latency"
RUNS = 5
SHORT_SECONDS = 0.2
LONG_SECONDS = 600.0
SCALE = 60.0
MAX_POLLS = 40
LATENCY_BUDGET_S = 1.0
JOB_ROUTES = ("/api/jobs/{job_id}", "/api/queries/{query_id}/jobs/{job_id}")


def _job_gets(emu: EmulatorProcess) -> int:
    return sum(emu.call("counters.requests", route=route, method="GET") for route in JOB_ROUTES)


def _timed_run(query_id: int, deferrable: bool) -> tuple[float, float]:
    """:return: seconds from submission to return, and the whole ``execute`` time."""
    from airflow_provider_dash.operators.redash import JOB_ID_KEY, RunQueryOperator
    from airflow_provider_dash.testing.inline import make_context, run_inline

    context = make_context()
    ti = context["ti"]
    submitted: list[float] = []
    push = ti.xcom_push

    def timed_push(key: str, value: Any) -> None:
        if key == JOB_ID_KEY and not submitted:
            submitted.append(time.perf_counter())
        push(key, value)

    ti.xcom_push = timed_push
    operator = RunQueryOperator(task_id="run", query_id=query_id, deferrable=deferrable, dash_conn_id=CONN_ID)
    started = time.perf_counter()
    result = run_inline(operator, context)
    ended = time.perf_counter()
    assert isinstance(result, int), result
    return ended - (submitted[0] if submitted else started), ended - started


def scheduled_polls(duration: float, deferrable: bool) -> int:
    """Status polls the shared schedule makes for a job finishing after ``duration`` seconds."""
    from airflow_provider_dash.polling import DEFAULT_POLL_INTERVAL, PollSchedule

    schedule = PollSchedule(poll_interval=DEFAULT_POLL_INTERVAL)
    at, polls = 0.0, 1  # the first poll right after submission
    while at < duration:
        at += schedule.delay(polls - 1)
        polls += 1
    return polls + (1 if deferrable else 0)  # the status check before deferring


def _scaled_child(conn: Any, env: dict[str, str], query_id: int, deferrable: bool) -> None:
    """Run the operator on the long query with the client's clock running ``SCALE`` times faster."""
    os.environ.update(env)
    import asyncio

    from airflow_provider_dash.operators.redash import RunQueryOperator
    from airflow_provider_dash.testing.inline import run_inline

    real_time, real_sleep, real_async_sleep = time.time, time.sleep, asyncio.sleep
    origin = real_time()

    async def scaled_async_sleep(delay: float, result: Any = None) -> Any:
        return await real_async_sleep(delay / SCALE, result)

    time.time = lambda: origin + (real_time() - origin) * SCALE
    time.sleep = lambda seconds: real_sleep(seconds / SCALE)
    asyncio.sleep = scaled_async_sleep  # type: ignore[assignment]
    operator = RunQueryOperator(task_id="run", query_id=query_id, deferrable=deferrable, dash_conn_id=CONN_ID)
    started = real_time()
    result = run_inline(operator)
    conn.send({"result": result, "real_s": real_time() - started})
    conn.close()


def _long_run(emu: EmulatorProcess, query_id: int, deferrable: bool) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    emu.call("counters.reset")
    env = dict(emu.conn_env(CONN_ID, retries=1))
    env["AIRFLOW_HOME"] = os.environ.get("AIRFLOW_HOME", "")
    process = ctx.Process(target=_scaled_child, args=(child, env, query_id, deferrable))
    process.start()
    child.close()
    if not parent.poll(LONG_SECONDS / SCALE * 6 + 60):
        process.kill()
        raise RuntimeError("the emulated 600 s run did not finish")
    outcome = parent.recv()
    process.join(30)
    outcome["polls"] = _job_gets(emu)
    return outcome


def run(quick: bool = False) -> list[Figure]:
    """Run the latency and polling-cost benchmark. :return: its figures."""
    figures: list[Figure] = []
    runs = 2 if quick else RUNS
    with EmulatorProcess(workers=4, demo_data=True) as emu:
        os.environ.update(emu.conn_env(CONN_ID, retries=1))
        short = emu.call("add_query", "bench 0.2 s", "SELECT 1 AS n", delay=SHORT_SECONDS)
        for deferrable in (False, True):
            mode = "deferrable" if deferrable else "sync"
            _timed_run(short, deferrable)  # warm-up: imports, connection lookup
            samples = [_timed_run(short, deferrable) for _ in range(runs)]
            after_submit = [s[0] for s in samples]
            print(
                f"  [{NAME}] {mode} 0.2 s query, s from submission: {[round(s, 3) for s in after_submit]}", flush=True
            )
            figures.append(
                budget(
                    NAME,
                    f"{mode}: 0.2 s query, submission to return (slowest of {runs})",
                    max(after_submit),
                    LATENCY_BUDGET_S,
                    "s",
                    note=f"median {statistics.median(after_submit):.2f} s; whole execute median "
                    f"{statistics.median(s[1] for s in samples):.2f} s",
                )
            )
    with EmulatorProcess(workers=4, demo_data=True, time_scale=SCALE) as emu:
        long_query = emu.call("add_query", "bench 600 s", "SELECT 2 AS n", delay=LONG_SECONDS)
        for deferrable in (False, True):
            mode = "deferrable" if deferrable else "sync"
            outcome = _long_run(emu, long_query, deferrable)
            print(f"  [{NAME}] {mode} 600 s query at x{SCALE:g}: {outcome}", flush=True)
            figures.append(
                budget(
                    NAME,
                    f"{mode}: status polls for a 600 s query",
                    outcome["polls"],
                    MAX_POLLS,
                    "polls",
                    note=f"emulated x{SCALE:g} ({outcome['real_s']:.1f} s real); the schedule alone says "
                    f"{scheduled_polls(LONG_SECONDS, deferrable)}",
                )
            )
    figures.append(
        info(NAME, "schedule: polls for a 600 s job (sync wait)", scheduled_polls(LONG_SECONDS, False), "polls")
    )
    return figures
