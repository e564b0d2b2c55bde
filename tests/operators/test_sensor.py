"""JobSensor against the emulator (the happy paths in DAGs are in test_run_query's submit-then-sense)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from dag_helpers import make_context, run_inline, run_trigger

from airflow_provider_dash.exceptions import DashConfigError, DashJobCancelledError, DashJobFailedError
from airflow_provider_dash.sensors.dash import JobSensor

SLOW, FAILING = 3, 4
MODES = [pytest.param(False, id="poke"), pytest.param(True, id="deferrable")]


def _submit(hook: Any, query_id: int) -> str:
    run = hook.execute_query(query_id, max_age=0)
    assert run.job is not None
    return str(run.job.id)


def _sensor(conn_id: str, job_id: str, **kwargs: Any) -> JobSensor:
    kwargs.setdefault("poll_interval", 0.1)
    return JobSensor(task_id="sense", job_id=job_id, timeout=30, dash_conn_id=conn_id, **kwargs)


@pytest.mark.parametrize("deferrable", MODES)
def test_failed_job_fails_the_sensor_with_redashs_text(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any, deferrable: bool
) -> None:
    job_id = _submit(dash_hook, FAILING)
    sensor = _sensor(dash_conn_id, job_id, query_id=FAILING, deferrable=deferrable)

    with pytest.raises(DashJobFailedError, match='column "no_such_column" does not exist'):
        run_inline(sensor, make_context())


@pytest.mark.parametrize("deferrable", MODES)
def test_failed_job_skips_the_sensor_with_soft_fail(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any, deferrable: bool
) -> None:
    job_id = _submit(dash_hook, FAILING)
    sensor = _sensor(dash_conn_id, job_id, soft_fail=True, deferrable=deferrable)

    with pytest.raises(AirflowSkipException, match="failed"):
        run_inline(sensor, make_context())


def test_cancelled_job_fails_the_deferred_sensor_as_cancelled(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    job_id = _submit(dash_hook, SLOW)
    sensor = _sensor(dash_conn_id, job_id, query_id=SLOW, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    dash_hook.cancel_job(job_id, SLOW)

    event = run_trigger(deferred.value.trigger)
    with pytest.raises(DashJobCancelledError, match="was cancelled: Query cancelled by user"):
        sensor.execute_complete(make_context(), event=event)


def test_deferred_sensor_times_out_with_its_timeout_and_leaves_the_job(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    job_id = _submit(dash_hook, SLOW)
    sensor = JobSensor(
        task_id="sense", job_id=job_id, timeout=0.3, poll_interval=0.1, deferrable=True, dash_conn_id=dash_conn_id
    )

    with pytest.raises(AirflowSensorTimeout, match=r"sensor timeout of 0\.3 s"):
        run_inline(sensor, make_context())
    assert dash_emulator.job(job_id)["status"] == 2


def test_deferred_sensor_defers_to_the_job_trigger_without_owning_the_job(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    job_id = _submit(dash_hook, SLOW)
    sensor = _sensor(dash_conn_id, job_id, query_id=str(SLOW), deferrable=True)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())

    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["job_ids"] == [job_id]
    assert kwargs["query_ids"] == {job_id: SLOW}
    assert kwargs["owned_job_ids"] == []
    assert deferred.value.timeout is None


def test_empty_job_id_says_the_upstream_may_have_answered_from_cache(dash_conn_id: str) -> None:
    with pytest.raises(DashConfigError, match="answered from cache"):
        _sensor(dash_conn_id, "None").poke(make_context())


def test_failed_job_fails_the_sensor_task_in_a_dag(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any, run_dag: Any, dag_id: str
) -> None:
    job_id = _submit(dash_hook, FAILING)
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        _sensor(dash_conn_id, job_id, deferrable=True)

    assert run_dag(dag).task_state("sense") == "failed"
