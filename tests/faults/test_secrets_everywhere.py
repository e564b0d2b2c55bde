"""The API key never shows after operator runs: not in XComs, rendered template fields, the trigger's
serialised kwargs or repr, any URL the server saw, or any log (every logger at DEBUG, task output too).

Hook calls and exception texts: tests/hooks/test_secrets.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dag_helpers import make_context, run_inline

from airflow_provider_dash.operators.checks import (
    QueryCheckOperator,
    QueryThresholdCheckOperator,
    QueryValueCheckOperator,
)
from airflow_provider_dash.operators.dash import RefreshDashboardOperator, RunQueryOperator
from airflow_provider_dash.operators.export import ExportQueryResultOperator
from airflow_provider_dash.sensors.checks import QueryResultSensor
from airflow_provider_dash.sensors.dash import JobSensor

SECRET = "sekrit-user-key-8d2e51b7"
COUNT_SQL = "SELECT count(*) AS n FROM orders"


@pytest.fixture
def emu(dash_emulator_factory: Callable[..., Any]) -> Any:
    """An emulator whose user key is :data:`SECRET`, with two queries (0.4 s each, so every deferrable
    task defers) and a dashboard of them."""
    emulator = dash_emulator_factory(user_key=SECRET, time_scale=20)
    emulator.count_id = emulator.add_query("orders count", COUNT_SQL, delay=8)
    emulator.region_id = emulator.add_query(
        "north count", "SELECT count(*) AS n FROM orders WHERE region = 'north'", delay=8
    )
    emulator.dashboard_id = emulator.add_dashboard("Secrets", [emulator.count_id, emulator.region_id])
    return emulator


@pytest.fixture
def conn_id(emu: Any, dash_connection: Callable[..., str]) -> str:
    return dash_connection(emulator=emu)


def _assert_secret_absent(where: str, *things: Any) -> None:
    for thing in things:
        text = thing if isinstance(thing, str) else f"{thing!r} {json.dumps(thing, default=repr)}"
        assert SECRET not in text, f"the API key is in {where}"


def _assert_server_saw_no_key_in_urls(emu: Any) -> None:
    targets = emu.counters.targets()
    assert targets, "the emulator recorded no request"
    for target in targets:
        assert SECRET not in target
        assert "api_key=" not in target


def _all_operators(conn_id: str, emu: Any, out: Path) -> list[Any]:
    """One task of every operator and sensor, deferrable where it can be, in one chain."""
    fast = {"poll_interval": 0.1, "dash_conn_id": conn_id}
    return [
        RunQueryOperator(task_id="run", query_id=emu.count_id, **fast),
        RunQueryOperator(task_id="run_deferred", query_id="{{ params.query }}", deferrable=True, **fast),
        JobSensor(
            task_id="job_sensor",
            job_id="{{ ti.xcom_pull(task_ids='run_deferred', key='job_id') }}",
            query_id="{{ params.query }}",
            deferrable=True,
            **fast,
        ),
        RefreshDashboardOperator(task_id="refresh", dashboard=emu.dashboard_id, deferrable=True, **fast),
        QueryCheckOperator(task_id="check", query_id=emu.count_id, min_rows=1, deferrable=True, **fast),
        QueryValueCheckOperator(task_id="value_check", query_id=emu.count_id, pass_value=300, **fast),
        QueryThresholdCheckOperator(
            task_id="threshold_check", query_id=emu.count_id, min_threshold=1, max_threshold=1000, **fast
        ),
        QueryResultSensor(task_id="result_sensor", query_id=emu.region_id, deferrable=True, timeout=60, **fast),
        ExportQueryResultOperator(task_id="export", query_id=emu.count_id, path=str(out), deferrable=True, **fast),
    ]


def test_key_is_in_no_xcom_rendered_field_url_or_log_after_a_dag_run(
    emu: Any,
    conn_id: str,
    run_dag: Any,
    dag_id: str,
    tmp_path: Path,
    debug_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.sdk import DAG, chain

    with DAG(dag_id, schedule=None, start_date=dt.datetime(2026, 1, 1), params={"query": emu.count_id}) as dag:
        tasks = _all_operators(conn_id, emu, tmp_path / "out.csv")
        chain(*tasks)
    result = run_dag(dag)
    assert result.state == "success", {t.task_id: result.task_state(t.task_id) for t in tasks}

    xcoms = result.xcoms()
    assert {task_id for task_id, _, _ in xcoms} == {t.task_id for t in tasks}  # every task pushed something
    for task_id, key, value in xcoms:
        _assert_secret_absent(f"XCom {task_id}.{key}", value)

    rendered = result.rendered_fields()
    assert set(rendered) == {t.task_id for t in tasks}
    for task_id, fields in rendered.items():
        _assert_secret_absent(f"the rendered fields of {task_id}", fields)

    _assert_server_saw_no_key_in_urls(emu)
    assert any(r.levelname == "DEBUG" for r in debug_logs.records), "expected DEBUG records"
    _assert_secret_absent("the logs", debug_logs.text, *(r.getMessage() for r in debug_logs.records))
    out, err = capfd.readouterr()
    assert "run_deferred" in out + err  # the task log went to the captured output
    _assert_secret_absent("the task output", out, err)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda emu, fast: RunQueryOperator(task_id="t", query_id=emu.count_id, **fast), id="run_query"),
        pytest.param(
            lambda emu, fast: RefreshDashboardOperator(task_id="t", dashboard=emu.dashboard_id, **fast), id="refresh"
        ),
        pytest.param(
            lambda emu, fast: QueryCheckOperator(task_id="t", query_id=emu.count_id, min_rows=1, **fast), id="check"
        ),
        pytest.param(
            lambda emu, fast: QueryResultSensor(task_id="t", query_id=emu.region_id, timeout=60, **fast),
            id="result_sensor",
        ),
        pytest.param(
            lambda emu, fast: ExportQueryResultOperator(task_id="t", query_id=emu.count_id, path=emu.out, **fast),
            id="export",
        ),
    ],
)
def test_key_is_not_in_the_trigger_kwargs_repr_or_urls_of_a_deferred_run(
    emu: Any,
    conn_id: str,
    make: Any,
    tmp_path: Path,
    debug_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    emu.out = str(tmp_path / "out.csv")
    operator = make(emu, {"poll_interval": 0.1, "dash_conn_id": conn_id, "deferrable": True})
    context = make_context()
    triggers: list[Any] = []
    run_inline(operator, context, triggers)

    assert triggers, "the operator did not defer"
    for trigger in triggers:
        classpath, kwargs = trigger.serialize()
        _assert_secret_absent(f"the kwargs of {classpath}", kwargs, repr(trigger), str(trigger))
    _assert_secret_absent("XComs", context["ti"].xcoms)
    _assert_server_saw_no_key_in_urls(emu)
    _assert_secret_absent("the logs", debug_logs.text)
    _assert_secret_absent("the task output", *capfd.readouterr())


def test_key_is_not_in_the_trigger_kwargs_of_a_deferred_job_sensor(
    emu: Any, conn_id: str, dash_connection: Callable[..., str], debug_logs: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_dash.hooks.dash import DashHook

    with DashHook(conn_id) as hook:
        job = hook.execute_query(emu.count_id).job
    assert job is not None
    sensor = JobSensor(
        task_id="t", job_id=job.id, query_id=emu.count_id, poll_interval=0.1, deferrable=True, dash_conn_id=conn_id
    )
    triggers: list[Any] = []
    assert run_inline(sensor, make_context(), triggers) == emu.job(job.id)["query_result_id"]
    assert triggers
    for trigger in triggers:
        _assert_secret_absent("the JobSensor's trigger", trigger.serialize()[1], repr(trigger))
    _assert_server_saw_no_key_in_urls(emu)
    _assert_secret_absent("the logs", debug_logs.text)


def test_the_key_check_itself_finds_a_planted_key(emu: Any) -> None:
    with pytest.raises(AssertionError):
        _assert_secret_absent("a planted value", {"headers": {"Authorization": f"Key {SECRET}"}})
