"""Dashboard fan-out: RefreshDashboardOperator on 40 one-second queries, against a sequential refresh.

Method
------
* Emulator in its own process, ``time_scale`` 1, 48 workers (more than the 40 queries, so the
  server is never the bottleneck). 40 saved queries, each kept running 1 s by the emulator; the
  dashboard shows each once, 20 of them a second time (same query, same parameters) and two text
  widgets: 62 widgets, 40 distinct (query, parameters) pairs.
* The operator is called in-process (``execute``; a deferral's trigger is rebuilt from its
  serialised kwargs and run in an event loop, then the task resumes), with ``poll_interval`` 2 s.
  Wall time is measured around the whole call.
* The emulator's counters give the executions per (query, parameters) and the most jobs in flight
  at once (counters are reset before every run; ``max_age=0`` so every run executes).
* Baseline: the redash-toolbelt pattern, one query after the other (submit, wait with the same
  poll schedule, next), through the provider's own hook.

Budgets: wall <= 1 s + 2 poll intervals + 1 s with ``max_active_queries=40`` (sync and deferrable);
executions = distinct pairs exactly; with ``max_active_queries=8`` never more than 8 in flight.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.emulator_proc import EmulatorProcess
from benchmarks.report import Figure, budget, info

NAME = "fanout"
QUERIES = 40
DUPLICATES = 20
QUERY_SECONDS = 1.0
POLL_INTERVAL = 2.0
CONN_ID = "dash_bench_fanout"
WALL_BUDGET = QUERY_SECONDS + 2 * POLL_INTERVAL + 1.0


def _setup(emu: EmulatorProcess) -> tuple[int, list[int]]:
    query_ids = [
        emu.call("add_query", f"bench fan-out {i}", f"SELECT {i} AS n, 'widget {i}' AS label", delay=QUERY_SECONDS)
        for i in range(QUERIES)
    ]
    widgets: list[Any] = [*query_ids, "## Fan-out benchmark", *query_ids[:DUPLICATES], "footer"]
    return emu.call("add_dashboard", "Fan-out benchmark", widgets), query_ids


def _refresh(emu: EmulatorProcess, dashboard_id: int, *, deferrable: bool, max_active: int) -> dict[str, Any]:
    from airflow_provider_dash.operators.redash_dashboard import RefreshDashboardOperator
    from airflow_provider_dash.testing.inline import run_inline

    emu.call("counters.reset")
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=dashboard_id,
        max_active_queries=max_active,
        deferrable=deferrable,
        poll_interval=POLL_INTERVAL,
        dash_conn_id=CONN_ID,
    )
    started = time.perf_counter()
    triggers: list[Any] = []
    runs = run_inline(operator, triggers=triggers)
    deferrals = len(triggers)
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "results": len(runs),
        "deferrals": deferrals,
        "executions": emu.call("counters.executions"),
        "max_in_flight": emu.get("counters.max_in_flight"),
    }


def _sequential(emu: EmulatorProcess, query_ids: list[int]) -> float:
    from airflow_provider_dash.hooks.redash import DashHook

    emu.call("counters.reset")
    started = time.perf_counter()
    with DashHook(CONN_ID) as hook:
        for query_id in query_ids:
            hook.run_query(query_id, max_age=0, poll_interval=POLL_INTERVAL)
    return time.perf_counter() - started


def run(quick: bool = False) -> list[Figure]:
    """Run the fan-out benchmark. :return: its figures."""
    with EmulatorProcess(workers=QUERIES + 8, demo_data=True) as emu:
        os.environ.update(emu.conn_env(CONN_ID, retries=1))
        dashboard_id, query_ids = _setup(emu)
        figures: list[Figure] = []
        walls = {}
        for deferrable in (False, True):
            mode = "deferrable" if deferrable else "sync"
            wide = _refresh(emu, dashboard_id, deferrable=deferrable, max_active=QUERIES)
            walls[mode] = wide["wall_s"]
            print(f"  [{NAME}] {mode} max_active_queries={QUERIES}: {wide}", flush=True)
            figures += [
                budget(
                    NAME,
                    f"{mode}, max_active_queries={QUERIES}: wall time",
                    wide["wall_s"],
                    WALL_BUDGET,
                    "s",
                    note=f"budget = {QUERY_SECONDS:g} s query + 2 x {POLL_INTERVAL:g} s poll interval + 1 s"
                    + (f"; {wide['deferrals']} deferral(s)" if deferrable else ""),
                ),
                budget(
                    NAME,
                    f"{mode}: executions - distinct pairs",
                    abs(wide["executions"] - QUERIES),
                    0,
                    "",
                    note=f"{wide['executions']} executions for {QUERIES} distinct pairs, "
                    f"{QUERIES + DUPLICATES} query widgets",
                ),
            ]
            narrow = _refresh(emu, dashboard_id, deferrable=deferrable, max_active=8)
            print(f"  [{NAME}] {mode} max_active_queries=8: {narrow}", flush=True)
            figures.append(
                budget(
                    NAME,
                    f"{mode}, max_active_queries=8: most jobs in flight",
                    narrow["max_in_flight"],
                    8,
                    "jobs",
                    note=f"wall {narrow['wall_s']:.1f} s, {narrow['executions']} executions"
                    + (f", {narrow['deferrals']} deferrals" if deferrable else ""),
                )
            )
        if quick:
            return figures
        sequential = _sequential(emu, query_ids)
        print(f"  [{NAME}] sequential baseline: {sequential:.1f} s", flush=True)
        figures += [
            info(NAME, "baseline: one query after another, wall time", sequential, "s", f"{QUERIES} queries"),
            info(
                NAME,
                "speed-up of the fan-out (sync) over the baseline",
                sequential / walls["sync"],
                "x",
                f"deferrable: {sequential / walls['deferrable']:.1f}x",
            ),
        ]
        return figures
