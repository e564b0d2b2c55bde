"""RefreshDashboardOperator against the emulator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk import DAG
from dag_helpers import make_context, run_inline

from airflow_provider_dash.exceptions import DashConfigError, DashError, DashJobFailedError
from airflow_provider_dash.operators.dash import RefreshDashboardOperator

PLAIN, SLOW, FAILING, REGION_ENUM, MIN_AMOUNT = 1, 3, 4, 6, 7
MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]


def _mapping(name: str, kind: str, value: Any = None, map_to: str | None = None) -> dict[str, Any]:
    return {name: {"name": name, "type": kind, "mapTo": map_to or name, "value": value, "title": ""}}


def _sales_dashboard(emu: Any) -> int:
    """Seven widgets: a query shown twice, a text, and every kind of parameter mapping."""
    return int(
        emu.add_dashboard(
            "Sales",
            [
                PLAIN,
                PLAIN,  # the same query again: runs once
                "## Notes",  # a text widget: nothing to run
                {"query_id": REGION_ENUM, "parameterMappings": _mapping("region", "dashboard-level")},
                {"query_id": MIN_AMOUNT, "parameterMappings": _mapping("min_amount", "static-value", 250)},
                {"query_id": REGION_ENUM, "parameterMappings": _mapping("region", "widget-level", "west")},
                {"query_id": MIN_AMOUNT, "parameterMappings": _mapping("min_amount", "dashboard-level", map_to="min")},
            ],
        )
    )


def _widget_ids(hook: Any, dashboard_id: int) -> list[int]:
    return [w.id for w in hook.get_dashboard(dashboard_id).widgets]


@pytest.mark.parametrize("deferrable", MODES)
def test_refresh_returns_one_entry_per_distinct_query_and_parameters(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    dashboard_id = _sales_dashboard(dash_emulator)
    w = _widget_ids(dash_hook, dashboard_id)
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        RefreshDashboardOperator(
            task_id="refresh",
            dashboard="{{ params.dashboard }}",
            params={"dashboard": dashboard_id},
            parameters={"region": "north"},
            deferrable=deferrable,
            poll_interval=0.2,
            dash_conn_id=dash_conn_id,
        )

    result = run_dag(dag)

    assert result.state == "success"
    runs = result.xcom("refresh")
    assert [(r["query_id"], r["parameters"], r["widget_ids"]) for r in runs] == [
        (PLAIN, {}, [w[0], w[1]]),
        (REGION_ENUM, {"region": "north"}, [w[3]]),
        (MIN_AMOUNT, {"min_amount": 250}, [w[4]]),
        (REGION_ENUM, {"region": "west"}, [w[5]]),
        (MIN_AMOUNT, {"min_amount": 400}, [w[6]]),  # "min" not given: the query's saved default
    ]
    assert all(isinstance(r["query_result_id"], int) for r in runs)
    assert dash_emulator.counters.executions() == 5
    assert dash_emulator.counters.executions(PLAIN) == 1
    slug = dash_hook.get_dashboard(dashboard_id).slug
    assert (
        result.xcom("refresh", "_link_RedashDashboardLink") == f"{dash_emulator.url}/dashboards/{dashboard_id}-{slug}"
    )


def test_an_unknown_dashboard_parameter_is_refused_with_the_dashboards_names(
    dash_emulator: Any, dash_conn_id: str
) -> None:
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=_sales_dashboard(dash_emulator),
        parameters={"regoin": "north"},
        dash_conn_id=dash_conn_id,
    )

    with pytest.raises(DashConfigError, match=r"regoin match no dashboard-level parameter.*: min, region"):
        operator.execute(make_context())
    assert dash_emulator.counters.executions() == 0


@pytest.mark.parametrize("deferrable", MODES)
def test_at_most_max_active_queries_run_at_once(dash_emulator: Any, dash_conn_id: str, deferrable: bool) -> None:
    dash_emulator.workers = 8
    dash_emulator.time_scale = 20
    for query_id in (PLAIN, REGION_ENUM, MIN_AMOUNT):
        dash_emulator.set_query_delay(query_id, 4)  # 0.2 s each
    dashboard_id = _sales_dashboard(dash_emulator)
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=dashboard_id,
        max_active_queries=2,
        deferrable=deferrable,
        poll_interval=0.1,
        dash_conn_id=dash_conn_id,
    )
    triggers: list[Any] = []

    runs = run_inline(operator, make_context(), triggers)

    assert len(runs) == 5
    assert dash_emulator.counters.max_in_flight == 2
    assert dash_emulator.counters.executions() == 5
    if deferrable:
        # One trigger per deferral, each waiting on the whole window (never one per query).
        assert triggers
        assert all(1 <= len(t.job_ids) <= 2 for t in triggers)
        assert len(triggers[0].job_ids) == 2
        assert len(triggers) < 5


def _failing_dashboard(emu: Any) -> int:
    return int(emu.add_dashboard("Broken", [FAILING, SLOW, PLAIN]))


@pytest.mark.parametrize("deferrable", MODES)
def test_failures_are_collected_and_named_at_the_end(dash_emulator: Any, dash_conn_id: str, deferrable: bool) -> None:
    dash_emulator.time_scale = 20
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=_failing_dashboard(dash_emulator),
        deferrable=deferrable,
        poll_interval=0.1,
        dash_conn_id=dash_conn_id,
    )

    with pytest.raises(DashError) as raised:
        run_inline(operator, make_context())

    text = str(raised.value)
    assert text.startswith("1 of 3 dashboard queries failed")
    assert f"query {FAILING} (widgets" in text
    assert 'column "no_such_column" does not exist' in text
    # The others ran to the end.
    assert dash_emulator.counters.executions(SLOW) == 1
    assert dash_emulator.counters.in_flight == 0


@pytest.mark.parametrize("deferrable", MODES)
def test_fail_fast_stops_at_the_first_failure_and_cancels_the_rest(
    dash_emulator: Any, dash_conn_id: str, deferrable: bool
) -> None:
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=_failing_dashboard(dash_emulator),
        fail_fast=True,
        deferrable=deferrable,
        poll_interval=0.1,
        dash_conn_id=dash_conn_id,
    )

    with pytest.raises(DashJobFailedError) as raised:
        run_inline(operator, make_context())

    assert f"failed at query {FAILING}" in str(raised.value)
    assert "fail_fast: cancelled" in str(raised.value)
    assert dash_emulator.counters.in_flight == 0  # the 5 s query was cancelled, not left running


def test_timeout_cancels_the_running_queries_and_says_so(dash_emulator: Any, dash_conn_id: str) -> None:
    operator = RefreshDashboardOperator(
        task_id="refresh",
        dashboard=int(dash_emulator.add_dashboard("Slow", [SLOW])),
        timeout=0.3,
        deferrable=True,
        poll_interval=0.1,
        dash_conn_id=dash_conn_id,
    )

    with pytest.raises(DashError, match=r"timed out after .*timeout=0\.3 s.*cancelled 1 job"):
        run_inline(operator, make_context())
    assert dash_emulator.counters.in_flight == 0


def test_bad_max_active_queries_fails_at_dag_parse() -> None:
    with pytest.raises(DashConfigError, match="max_active_queries"):
        RefreshDashboardOperator(task_id="refresh", dashboard=1, max_active_queries=0)
