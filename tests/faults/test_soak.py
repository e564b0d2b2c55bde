"""A soak against the faulty emulator: 500 query runs through the hook and 100 dashboard refreshes
through the operator. Zero lost results, zero duplicate executions, memory flat. ``pytest -s`` prints
the figures."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from dag_helpers import make_context

from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.operators.dash import RefreshDashboardOperator

from .conftest import apply_faults, set_dash_connection

RUNS, REFRESHES, THREADS = 500, 100, 8
NUMBER = [{"name": "n", "title": "N", "type": "number", "value": 0}]


def rss_mb() -> float:
    """Resident memory of this process (the client and the in-process emulator), in MB."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_soak_nothing_lost_nothing_run_twice_memory_flat(
    dash_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = dash_emulator_factory(seed=6, workers=8)
    echo = emu.add_query("echo", "SELECT {{ n }} AS n", NUMBER, delay=0.01)
    double = emu.add_query("double", "SELECT {{ n }} * 2 AS n2", NUMBER, delay=0.01)
    mapping = {"n": {"name": "n", "type": "dashboard-level", "mapTo": "n", "value": None, "title": ""}}
    dashboard = emu.add_dashboard(
        "soak", [{"query_id": echo, "parameterMappings": mapping}, {"query_id": double, "parameterMappings": mapping}]
    )
    conn_id = set_dash_connection(monkeypatch, "dash_soak", emu.url, emu.user_key, timeout=0.5, retries=8)
    injector = apply_faults(emu, error_rate=0.1, rate_limit_every=50, drop_rate=0.02, slow_rate=0.01)
    rss: list[float] = []
    started = time.monotonic()

    def run_queries(worker: int) -> dict[int, int]:
        with DashHook(conn_id) as hook:
            out = {}
            for n in range(worker, RUNS, THREADS):
                out[n] = hook.run_query(echo, {"n": n}, poll_interval=0.2)
                if n == RUNS // 4 or n == RUNS - 1:
                    rss.append(rss_mb())
            return out

    def refresh(worker: int) -> dict[int, list[dict[str, Any]]]:
        out = {}
        for k in range(worker, REFRESHES, THREADS):
            operator = RefreshDashboardOperator(
                task_id="refresh",
                dashboard=dashboard,
                parameters={"n": 10_000 + k},
                poll_interval=0.2,
                dash_conn_id=conn_id,
            )
            out[k] = operator.execute(make_context())
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results: dict[int, int] = {}
        for part in pool.map(run_queries, range(THREADS)):
            results.update(part)
        query_seconds = time.monotonic() - started
        refreshes: dict[int, list[dict[str, Any]]] = {}
        for part2 in pool.map(refresh, range(THREADS)):
            refreshes.update(part2)
    total_seconds = time.monotonic() - started
    rss.append(rss_mb())

    lost = [n for n in range(RUNS) if emu.results.get(results.get(n, -1)) is None]
    wrong = [n for n in range(RUNS) if n not in lost and emu.results.get(results[n]).query != f"SELECT {n} AS n"]
    for k in range(REFRESHES):
        for run in refreshes[k]:
            meta = emu.results.get(run["query_result_id"])
            if meta is None or str(10_000 + k) not in meta.query:
                lost.append(100_000 + k)
    duplicates = {key: count for key, count in emu.counters.execution_table().items() if count != 1}
    executions = emu.counters.executions()
    requests = emu.counters.requests()
    growth = rss[-1] - rss[0]
    print(
        f"\nSOAK: {RUNS} hook runs in {query_seconds:.1f} s, {REFRESHES} dashboard refreshes "
        f"({2 * REFRESHES} queries), {total_seconds:.1f} s in all; {requests} requests, {executions} executions; "
        f"faults injected {injector.injected} (latency: answers slower than the timeout); "
        f"lost {len(lost)}, wrong {len(wrong)}, duplicate executions {len(duplicates)}; "
        f"RSS {rss[0]:.0f} MB after the first quarter -> {rss[-1]:.0f} MB at the end ({growth:+.1f} MB)"
    )
    assert lost == []
    assert wrong == []
    assert duplicates == {}
    assert executions == RUNS + 2 * REFRESHES
    assert injector.injected["error"] > 0
    assert injector.injected["drop"] > 0
    assert growth < 60, f"memory grew {growth:.1f} MB over the soak"
