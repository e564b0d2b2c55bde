"""Triggerer capacity: many JobTriggers in one event loop, against baselines measured in the same run.

Method
------
* The emulator runs in its own process (:mod:`benchmarks.emulator_proc`) with enough workers that
  every job runs at once; each job is a distinct ad-hoc SQL that finishes ``JOB_SECONDS`` after
  submission (emulated delay, ``time_scale`` 1).
* Each variant runs in a fresh client process (``spawn``), so its CPU (``time.process_time()``, all
  threads) and memory (RSS growth, sampled every 50 ms, over the RSS after imports and one warm-up
  request) belong to it alone. The two processes share the machine's cores.
* Variants, each waiting on its own N fresh jobs with poll interval ``POLL_INTERVAL``:

  - ``JobTrigger``: N triggers rebuilt from their serialised kwargs and run by Airflow's own
    ``TriggerRunner.run_trigger`` (greenback portal, tracing span, cleanup) in one loop; each trigger
    makes its own ``DashAsyncClient`` from the Airflow connection, as in a real triggerer.
  - ``floor``: a bare coroutine per job doing the same GETs on the same poll schedule
    (:class:`~airflow_provider_dash.polling.PollSchedule`) on ONE shared ``httpx.AsyncClient``
    (no pool limit, so requests are not queued), parsing ``job.status`` from the JSON.
  - ``per-poll``: the same loop, but a new ``httpx.AsyncClient`` for every poll (what the dbt Cloud
    provider's trigger does with its session).

* CPU per poll = client CPU seconds from the first trigger's start to the last event, divided by the
  status GETs the emulator answered (its own counter). Client set-up (per-trigger client, TCP
  connect) is included: it is part of what a triggerer pays.
* The longest stall is the lateness of a 50 ms ticker coroutine in the same loop.
* Connections are the TCP connections the emulator accepted during the run.

Budgets: CPU per poll at or below the floor; memory per trigger <= 100 KiB; no stall over 0.2 s;
every job finished on the server and seen finished by its trigger; TCP connections at most the
in-flight cap plus a few. The whole thing is repeated for 100/250/500/1000 triggers for the chart;
at the largest count the floor and JobTrigger run twice, alternately, and their CPU and polls are
summed (one run of each differs from the next by about 5%).

The floor keeps the 8 in flight it had when the shared client came in (issue 10); JobTrigger lets
:data:`~airflow_provider_dash.shared_http.MAX_CONCURRENT_REQUESTS` (4). httpcore's pool does work
per request in its connections (squared for its idle ones), so 4 in flight cost less CPU per poll
than 8 on the same client: that is how the triggerer, with Airflow's runner and our parsing on
top, gets down to the floor (at 8 in flight it measured 1.11-1.15x).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from typing import Any

from airflow_provider_dash.shared_http import MAX_CONCURRENT_REQUESTS
from benchmarks.emulator_proc import EmulatorProcess
from benchmarks.report import Figure, budget, info

NAME = "triggerer"
JOB_SECONDS = 20.0
POLL_INTERVAL = 2.0
COUNTS = (100, 250, 500, 1000)
CONN_ID = "dash_bench"
JOB_ROUTE = "/api/jobs/{job_id}"
TRIGGER, FLOOR, PER_POLL = "JobTrigger", "floor (one shared httpx client)", "new httpx client per poll"
CPU_RATIO_BUDGET = 1.0
KIB_BUDGET = 100.0
STALL_BUDGET_S = 0.2
#: Triggers share one client per triggerer and server: at most the in-flight cap (4), plus a few.
CONNECTIONS_BUDGET = MAX_CONCURRENT_REQUESTS + 4
#: Runs of the floor and of JobTrigger at the largest count, alternately (their sums are compared).
TOP_REPEATS = 2
FLOOR_CONCURRENCY = 8


# --------------------------------------------------------------------------- client process


def _client(conn: Any, variant: str, env: dict[str, str], url: str, key: str, job_ids: list[str]) -> None:
    """Run one variant on ``job_ids`` and send back its measurements (runs in a fresh process)."""
    os.environ.update(env)
    import asyncio
    import gc
    import logging
    import time

    import httpx
    import psutil
    import structlog

    from airflow_provider_dash.hooks.redash_async import DashAsyncClient
    from airflow_provider_dash.polling import PollSchedule
    from airflow_provider_dash.triggers.redash import JobTrigger

    # The runner logs "trigger starting/completed" per trigger (not per poll); keep the console quiet.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    process = psutil.Process()
    headers = {"Authorization": f"Key {key}", "Accept": "application/json"}
    terminal = {3, 4, 5}

    async def warm_up() -> None:
        # Imports and one request per code path before measuring, so neither is counted.
        async with await DashAsyncClient.from_conn_id(CONN_ID) as client:
            await client.get_job(job_ids[0])
        async with httpx.AsyncClient(headers=headers) as plain:
            (await plain.get(f"{url}/api/jobs/{job_ids[0]}")).json()

    asyncio.run(warm_up())
    gc.collect()
    gc_pauses: list[float] = []  # full collections only
    gc_clock = {"started": 0.0, "total": 0.0}  # every collection, summed

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_clock["started"] = time.perf_counter()
            return
        pause = time.perf_counter() - gc_clock["started"]
        gc_clock["total"] += pause
        if info.get("generation") == 2:
            gc_pauses.append(pause)

    gc.callbacks.append(on_gc)

    async def poll_loop(get: Any, job_id: str) -> int:
        schedule = PollSchedule(poll_interval=POLL_INTERVAL)
        polls = 0
        while True:
            response = await get(f"{url}/api/jobs/{job_id}")
            status = response.json()["job"]["status"]
            if status in terminal:
                return int(status)
            await asyncio.sleep(schedule.delay(polls))
            polls += 1

    async def main() -> dict[str, Any]:
        done = False
        stall = cpu_stall = stall_at = 0.0
        started = time.perf_counter()
        peak_rss = process.memory_info().rss

        async def watchdog() -> None:
            # Lateness of a 50 ms ticker, as Airflow's block_watchdog measures it (wall clock), and
            # the part of it this thread spent running callbacks: on the CPU (on a shared machine
            # the rest is time the OS gave other processes) and not in the garbage collector
            # (reported apart: a full collection walks Airflow's whole heap).
            nonlocal stall, cpu_stall, stall_at, peak_rss
            ticks = 0
            while not done:
                before, cpu_before, gc_before = time.perf_counter(), time.thread_time(), gc_clock["total"]
                await asyncio.sleep(0.05)
                late = time.perf_counter() - before - 0.05
                stall = max(stall, late)
                in_gc = gc_clock["total"] - gc_before
                own = max(0.0, min(late, time.thread_time() - cpu_before) - in_gc)
                if own > cpu_stall:
                    cpu_stall, stall_at = own, time.perf_counter() - started
                ticks += 1
                if ticks % 10 == 0:
                    peak_rss = max(peak_rss, process.memory_info().rss)

        dog = asyncio.create_task(watchdog())
        await asyncio.sleep(0.2)
        if variant == TRIGGER:
            runner = TriggerRunner()
            workloads = [
                JobTrigger([job_id], dash_conn_id=CONN_ID, poll_interval=POLL_INTERVAL).serialize()[1]
                for job_id in job_ids
            ]
            tasks = []
            for index, kwargs in enumerate(workloads):
                # As TriggerRunner.create_triggers does: yield to the loop between two triggers.
                await asyncio.sleep(0)
                trigger = JobTrigger(**kwargs)
                task = asyncio.create_task(runner.run_trigger(index, trigger), name=f"bench-{index}")
                runner.triggers[index] = {"task": task, "is_watcher": False, "name": f"bench-{index}", "events": 0}
                tasks.append(task)
            await asyncio.gather(*tasks)
            seen = {
                job_id: job["status"] for entry in runner.events for job_id, job in entry.event.payload["jobs"].items()
            }
        elif variant == FLOOR:
            # httpcore's pool does work linear in its connections and waiting requests for every
            # request, so 1,000 requests at once on one client are quadratic (PoolTimeout with the
            # default limits). A semaphore keeps at most FLOOR_CONCURRENCY in the pool at a time.
            gate = asyncio.Semaphore(FLOOR_CONCURRENCY)
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            async with httpx.AsyncClient(headers=headers, limits=limits) as shared:

                async def gated_get(target: str) -> httpx.Response:
                    async with gate:
                        return await shared.get(target)

                statuses = await asyncio.gather(*(poll_loop(gated_get, job_id) for job_id in job_ids))
            seen = dict(zip(job_ids, statuses, strict=True))
        else:

            async def get_with_new_client(target: str) -> httpx.Response:
                async with httpx.AsyncClient(headers=headers) as fresh:
                    response = await fresh.get(target)
                    await response.aread()
                    return response

            statuses = await asyncio.gather(*(poll_loop(get_with_new_client, job_id) for job_id in job_ids))
            seen = dict(zip(job_ids, statuses, strict=True))
        await asyncio.sleep(0.2)  # let the peak sampler and watchdog see the end
        done = True
        await dog
        return {
            "seen": seen,
            "max_stall_s": stall,
            "max_cpu_stall_s": cpu_stall,
            "stall_at_s": stall_at,
            "peak_rss": peak_rss,
        }

    rss_before = process.memory_info().rss
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    profile_dir = os.environ.get("DASH_BENCH_PROFILE")
    if profile_dir:  # cProfile the measured part (slows it down: figures are then not comparable)
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(asyncio.run, main())
        profiler.dump_stats(os.path.join(profile_dir, f"triggerer-{variant.split()[0]}-{len(job_ids)}.prof"))
    else:
        result = asyncio.run(main())
    result["max_gc_pause_s"] = max(gc_pauses, default=0.0)
    result["full_collections"] = len(gc_pauses)
    result["cpu_s"] = time.process_time() - cpu_before
    result["wall_s"] = time.perf_counter() - wall_before
    result["rss_growth"] = max(0, result.pop("peak_rss") - rss_before)
    conn.send(result)
    conn.close()


def run_variant(emu: EmulatorProcess, variant: str, count: int, env: dict[str, str]) -> dict[str, Any]:
    """Submit ``count`` fresh jobs and wait on them with ``variant`` in a fresh process.

    :return: the client's measurements plus the emulator's counts (polls, connections).
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    # Jobs are submitted once the client is ready, so start-up time does not eat into the 20 s.
    process = ctx.Process(target=_client_bootstrap, args=(child, variant, env, emu.url, emu.user_key, count))
    process.start()
    child.close()
    if not parent.poll(120):
        raise RuntimeError(f"{variant} client did not come up")
    assert parent.recv() == "ready"
    emu.call("counters.reset")
    job_ids = emu.submit_jobs(count, JOB_SECONDS, f"{variant}-{count}")
    emu_cpu_before = emu.cpu_seconds()
    parent.send(job_ids)
    if not parent.poll(JOB_SECONDS * 10 + 120):
        process.kill()
        raise RuntimeError(f"{variant} with {count} triggers did not finish")
    result: dict[str, Any] = parent.recv()
    process.join(30)
    result["emulator_cpu_s"] = emu.cpu_seconds() - emu_cpu_before
    # "Seen complete": the job finished on the server and the client reported it finished.
    states = emu.job_states(job_ids)
    seen = result.pop("seen")
    result["complete"] = sum(1 for j in job_ids if seen.get(j) == 3 and states[j][0] == 3)
    failed = [error for status, error in states.values() if status != 3]
    result["server_failed"] = len(failed)
    result["server_error"] = failed[0][:200] if failed else ""
    result["polls"] = emu.call("counters.requests", route=JOB_ROUTE, method="GET") - 1  # minus the warm-up
    result["connections"] = emu.get("counters.connections_seen")
    result["count"] = count
    result["cpu_ms_per_poll"] = 1000 * result["cpu_s"] / max(1, result["polls"])
    result["kib_per_trigger"] = result["rss_growth"] / 1024 / count
    return result


def _client_bootstrap(conn: Any, variant: str, env: dict[str, str], url: str, key: str, count: int) -> None:
    """Import and warm up first, then wait for the job ids (the 20 s clock starts at submission)."""
    os.environ.update(env)
    import airflow.jobs.triggerer_job_runner  # noqa: F401 - imported before the clock starts
    import httpx  # noqa: F401

    import airflow_provider_dash.hooks.redash_async
    import airflow_provider_dash.triggers.redash  # noqa: F401

    conn.send("ready")
    job_ids = conn.recv()
    assert len(job_ids) == count
    _client(conn, variant, env, url, key, job_ids)


# --------------------------------------------------------------------------- benchmark


def run(counts: tuple[int, ...] = COUNTS, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    """Run every variant at the largest count, and JobTrigger and the floor at every count.

    :return: the figures and the series for the scaling chart.
    """
    counts = counts[-1:] if quick else counts
    home = tempfile.mkdtemp(prefix="dash-bench-airflow-")
    with EmulatorProcess(workers=max(counts) + 10, demo_data=True, job_ttl=3600) as emu:
        env = {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            **emu.conn_env(CONN_ID, retries=1),
        }
        results: dict[str, dict[int, dict[str, Any]]] = {TRIGGER: {}, FLOOR: {}, PER_POLL: {}}
        top = max(counts)
        for count in counts:
            runs: dict[str, list[dict[str, Any]]] = {FLOOR: [], TRIGGER: []}
            for _ in range(TOP_REPEATS if count == top and not quick else 1):
                for variant in (FLOOR, TRIGGER):
                    runs[variant].append(run_variant(emu, variant, count, env))
                    _progress(variant, runs[variant][-1])
            for variant, measured in runs.items():
                results[variant][count] = _summed(measured)
        results[PER_POLL][top] = run_variant(emu, PER_POLL, top, env)
        _progress(PER_POLL, results[PER_POLL][top])
    return _figures(results, top), _series(results, counts)


def _summed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one variant as one: CPU and polls summed, the worst of everything else."""
    if len(runs) == 1:
        return runs[0]
    merged = dict(max(runs, key=lambda r: r["max_cpu_stall_s"]))
    merged["cpu_s"] = sum(r["cpu_s"] for r in runs)
    merged["polls"] = sum(r["polls"] for r in runs)
    merged["cpu_ms_per_poll"] = 1000 * merged["cpu_s"] / max(1, merged["polls"])
    for key in ("kib_per_trigger", "max_stall_s", "connections", "max_gc_pause_s", "wall_s"):
        merged[key] = max(r[key] for r in runs)
    merged["complete"] = min(r["complete"] for r in runs)
    merged["runs"] = len(runs)
    return merged


def _progress(variant: str, r: dict[str, Any]) -> None:
    print(
        f"  [{NAME}] {variant:<32} N={r['count']:<5} cpu/poll={r['cpu_ms_per_poll']:.3f} ms polls={r['polls']} "
        f"mem/trigger={r['kib_per_trigger']:.1f} KiB complete={r['complete']} wall={r['wall_s']:.1f} s "
        f"(server failed {r['server_failed']} {r['server_error']!r})\n"
        f"  [{NAME}]    stall wall {1000 * r['max_stall_s']:.0f} ms, own {1000 * r['max_cpu_stall_s']:.0f} ms "
        f"(at {r['stall_at_s']:.1f} s); full GCs {r['full_collections']}, longest {1000 * r['max_gc_pause_s']:.0f} ms; "
        f"connections {r['connections']}; emulator CPU {r['emulator_cpu_s']:.1f} s",
        flush=True,
    )


def _figures(results: dict[str, dict[int, dict[str, Any]]], top: int) -> list[Figure]:
    trig, floor, per_poll = results[TRIGGER][top], results[FLOOR][top], results[PER_POLL][top]
    ratio = trig["cpu_ms_per_poll"] / floor["cpu_ms_per_poll"]
    return [
        info(
            NAME,
            f"floor: CPU per poll, {top} jobs",
            floor["cpu_ms_per_poll"],
            "ms",
            f"one shared httpx.AsyncClient, 8 in flight; {floor['polls']} polls in {floor.get('runs', 1)} run(s)",
        ),
        info(
            NAME,
            f"new client per poll: CPU per poll, {top} jobs",
            per_poll["cpu_ms_per_poll"],
            "ms",
            f"{per_poll['cpu_ms_per_poll'] / floor['cpu_ms_per_poll']:.1f}x floor; "
            f"{per_poll['connections']} TCP connections",
        ),
        info(
            NAME,
            f"JobTrigger: CPU per poll, {top} triggers",
            trig["cpu_ms_per_poll"],
            "ms",
            f"{MAX_CONCURRENT_REQUESTS} in flight; {trig['polls']} polls in {trig.get('runs', 1)} run(s)",
        ),
        budget(NAME, "JobTrigger CPU per poll / floor", ratio, CPU_RATIO_BUDGET, "x"),
        budget(
            NAME, "JobTrigger memory per trigger", trig["kib_per_trigger"], KIB_BUDGET, "KiB", note="RSS growth / N"
        ),
        budget(
            NAME,
            "JobTrigger longest loop stall, own work",
            1000 * trig["max_cpu_stall_s"],
            1000 * STALL_BUDGET_S,
            "ms",
            note="ticker lateness on CPU, less GC pauses",
        ),
        info(
            NAME,
            "JobTrigger longest loop stall, wall (as Airflow's watchdog sees it)",
            1000 * trig["max_stall_s"],
            "ms",
            f"{trig['full_collections']} full GC runs, longest {1000 * trig['max_gc_pause_s']:.0f} ms; "
            f"floor: {1000 * floor['max_stall_s']:.0f} ms wall",
        ),
        budget(
            NAME,
            "jobs not seen finished",
            top - trig["complete"],
            0,
            "jobs",
            note=f"{trig['complete']} of {top}"
            + (
                f"; emulator failed {trig['server_failed']}: {trig['server_error'][:80]}"
                if trig["server_failed"]
                else ""
            ),
        ),
        budget(
            NAME,
            "JobTrigger: TCP connections the emulator saw",
            trig["connections"],
            CONNECTIONS_BUDGET,
            "connections",
            note=f"{top} triggers sharing one client per loop and server (floor: {floor['connections']})",
        ),
    ]


def _series(results: dict[str, dict[int, dict[str, Any]]], counts: tuple[int, ...]) -> dict[str, Any]:
    def column(key: str, scale: float = 1.0) -> dict[str, list[float | None]]:
        return {
            variant: [(by_count[n][key] * scale if n in by_count else None) for n in counts]
            for variant, by_count in results.items()
        }

    return {
        "triggers": list(counts),
        "job_seconds": JOB_SECONDS,
        "poll_interval": POLL_INTERVAL,
        "cpu_ms_per_poll": column("cpu_ms_per_poll"),
        "kib_per_trigger": column("kib_per_trigger"),
        "max_stall_ms": column("max_cpu_stall_s", 1000.0),
        "max_wall_stall_ms": column("max_stall_s", 1000.0),
        "max_gc_pause_ms": column("max_gc_pause_s", 1000.0),
        "connections": column("connections"),
        "polls": column("polls"),
        "cpu_budget_ms": [CPU_RATIO_BUDGET * results[FLOOR][n]["cpu_ms_per_poll"] for n in counts],
        "kib_budget": KIB_BUDGET,
        "stall_budget_ms": 1000 * STALL_BUDGET_S,
    }
