"""The issue's fault mix (30% 500/502/503, 429 with Retry-After 1, dropped connections, answers slower
than the HTTP timeout, one malformed JSON body): every operator succeeds with the right result ids,
and each (query, parameters) runs exactly once on the server."""

from __future__ import annotations

from typing import Any

import pytest
from dag_helpers import make_context, run_inline

from airflow_provider_dash.operators.dash import RefreshDashboardOperator, RunQueryOperator
from airflow_provider_dash.sensors.dash import JobSensor

from .conftest import QUERIES, apply_faults, settle

MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]


def result_sql(emu: Any, result_id: int) -> str:
    """The SQL text a stored result was computed from (the server's record, not ours)."""
    meta = emu.results.get(result_id)
    assert meta is not None, f"result {result_id} does not exist on the server"
    return str(meta.query)


def assert_faults_were_met(injector: Any) -> None:
    assert injector.injected["error"] > 0
    assert injector.injected["rate_limit"] > 0
    assert injector.injected["malformed"] == 1


@pytest.mark.parametrize("deferrable", MODES)
def test_run_query_operator_runs_each_query_once_through_the_fault_mix(
    emu: Any, conn_id: str, deferrable: bool
) -> None:
    injector = apply_faults(emu)
    runs = [("count", {}), ("region", {"region": "south"})]
    results = {}
    for name, parameters in runs:
        operator = RunQueryOperator(
            task_id=f"run_{name}",
            query_id=emu.query_ids[name],
            parameters=parameters,
            poll_interval=0.3,
            deferrable=deferrable,
            dash_conn_id=conn_id,
        )
        results[name] = run_inline(operator, make_context())
    settle(emu)

    assert result_sql(emu, results["count"]) == QUERIES["count"][0]
    assert result_sql(emu, results["region"]).endswith("region = 'south'")
    for name, parameters in runs:
        assert emu.counters.executions(emu.query_ids[name], parameters) == 1, name
    assert emu.counters.executions() == 2
    assert_faults_were_met(injector)


def test_deferred_job_sensor_finds_the_result_through_the_fault_mix(emu: Any, conn_id: str, hook: Any) -> None:
    job = hook.execute_query(emu.query_ids["count"]).job  # submitted before the faults
    injector = apply_faults(emu, rate_limit_every=3)
    sensor = JobSensor(
        task_id="wait",
        job_id=job.id,
        query_id=emu.query_ids["count"],
        poll_interval=0.3,
        deferrable=True,
        dash_conn_id=conn_id,
    )
    result_id = run_inline(sensor, make_context())
    settle(emu)

    assert result_id == emu.job(job.id)["query_result_id"]
    assert emu.counters.executions() == 1
    assert injector.injected["rate_limit"] > 0


@pytest.mark.parametrize("deferrable", MODES)
def test_refresh_dashboard_runs_each_widget_query_once_through_the_fault_mix(
    emu: Any, conn_id: str, deferrable: bool
) -> None:
    injector = apply_faults(emu)
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=emu.dashboard_id,
        parameters={"region": "east"},
        max_active_queries=2,
        poll_interval=0.3,
        deferrable=deferrable,
        dash_conn_id=conn_id,
    )
    runs = run_inline(operator, make_context())
    settle(emu)

    by_query = {run["query_id"]: run for run in runs}
    assert len(runs) == 3
    assert result_sql(emu, by_query[emu.query_ids["count"]]["query_result_id"]) == QUERIES["count"][0]
    assert result_sql(emu, by_query[emu.query_ids["total"]]["query_result_id"]) == QUERIES["total"][0]
    region = by_query[emu.query_ids["region"]]
    assert region["parameters"] == {"region": "east"}
    assert result_sql(emu, region["query_result_id"]).endswith("region = 'east'")
    assert emu.counters.executions(emu.query_ids["count"], {}) == 1
    assert emu.counters.executions(emu.query_ids["total"], {}) == 1
    assert emu.counters.executions(emu.query_ids["region"], {"region": "east"}) == 1
    assert emu.counters.executions() == 3
    assert_faults_were_met(injector)
