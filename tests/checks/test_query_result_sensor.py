"""QueryResultSensor against the emulator: data that appears after a few pokes, in every mode."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from dag_helpers import make_context, run_trigger

from airflow_provider_dash.exceptions import DashConfigError, DashJobFailedError
from airflow_provider_dash.sensors.checks import QueryResultSensor

MODES = [pytest.param(False, id="poke"), pytest.param(True, id="deferrable")]


def _fire(trigger: Any) -> Any:
    """Run a trigger to its first event. JobTrigger goes through a JSON round trip like a triggerer's;
    Airflow's TimeDeltaTrigger carries a datetime (serde, not JSON), so it is run as it is."""
    import asyncio

    if type(trigger).__name__ == "JobTrigger":
        return run_trigger(trigger)

    async def first() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(first())


def run_inline(sensor: Any, context: Any, triggers: list[Any] | None = None) -> Any:
    """Call ``execute``; for each deferral run the trigger, then resume, until the sensor returns or raises."""
    call = lambda: sensor.execute(context)  # noqa: E731
    while True:
        try:
            return call()
        except TaskDeferred as deferred:
            if triggers is not None:
                triggers.append(deferred.trigger)
            event, method = _fire(deferred.trigger), getattr(sensor, deferred.method_name)
            call = lambda method=method, event=event: method(context, event=event)  # noqa: E731


@pytest.fixture
def arrivals(dash_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """A query over an empty table that gets a row as soon as the emulator stored its 2nd result.

    The row is written inside the emulator right after the 2nd run (before any client can see it
    finished), so the 3rd run is the first to see it: no sleeps, no race.
    """
    dash_emulator.add_table("arrivals", [("n", "INTEGER")])
    query_id = int(dash_emulator.add_query("arrivals", "SELECT count(*) AS n FROM arrivals"))
    store = dash_emulator.results.store
    stored = []

    def store_then_arrive(*args: Any, **kwargs: Any) -> Any:
        meta = store(*args, **kwargs)
        stored.append(meta.id)
        if len(stored) == 2:
            dash_emulator.db.write("INSERT INTO arrivals VALUES (1)")
        return meta

    monkeypatch.setattr(dash_emulator.results, "store", store_then_arrive)
    return query_id


def _sensor(conn_id: str, query_id: int, **kwargs: Any) -> QueryResultSensor:
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("timeout", 60)
    return QueryResultSensor(task_id="wait", query_id=query_id, dash_conn_id=conn_id, **kwargs)


@pytest.mark.parametrize("deferrable", MODES)
def test_sensor_reruns_the_query_until_the_data_is_there(
    dash_emulator: Any, dash_conn_id: str, arrivals: int, deferrable: bool
) -> None:
    triggers: list[Any] = []
    result_id = run_inline(_sensor(dash_conn_id, arrivals, deferrable=deferrable), make_context(), triggers)

    assert dash_emulator.counters.executions(arrivals) == 3
    assert dash_emulator.results.get(result_id).row_count == 1
    if deferrable:
        # Each run's wait in a JobTrigger (when not done at the first check), the pauses in TimeDeltaTriggers.
        kinds = [type(t).__name__ for t in triggers]
        assert kinds.count("TimeDeltaTrigger") == 2
        assert set(kinds) <= {"JobTrigger", "TimeDeltaTrigger"}


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(lambda result: result.rows[0]["n"] >= 1, id="callable"),
        pytest.param({"column_checks": {"n": {"min": 1}}}, id="check-spec"),
    ],
)
def test_sensor_condition_as_callable_or_check_spec(
    dash_emulator: Any, dash_conn_id: str, arrivals: int, condition: Any
) -> None:
    run_inline(_sensor(dash_conn_id, arrivals, condition=condition), make_context())
    assert dash_emulator.counters.executions(arrivals) == 3


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_in_a_dag_returns_the_passing_result_id(
    dash_emulator: Any, dash_conn_id: str, arrivals: int, run_dag: Any, dag_id: str, mode: str
) -> None:
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        _sensor(
            dash_conn_id,
            arrivals,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
        )

    result = run_dag(dag)

    assert result.state == "success"
    assert dash_emulator.results.get(result.xcom("wait")).row_count == 1
    assert dash_emulator.counters.executions(arrivals) == 3


def test_deferred_sensor_submits_in_the_worker_and_times_out(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any
) -> None:
    query_id = sql_query("SELECT 0 AS n")
    with pytest.raises(AirflowSensorTimeout, match=r"did not pass within the sensor timeout of 1 s"):
        run_inline(_sensor(dash_conn_id, query_id, deferrable=True, timeout=1), make_context())
    assert dash_emulator.counters.executions(query_id) >= 1


def test_deferred_sensor_timing_out_on_a_running_job_cancels_it_and_says_so(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any
) -> None:
    query_id = sql_query("SELECT 0 AS n, pg_sleep(60)")
    with pytest.raises(AirflowSensorTimeout, match=r"was still running; the job was cancelled\)"):
        run_inline(_sensor(dash_conn_id, query_id, deferrable=True, timeout=1), make_context())
    assert [job.status for job in dash_emulator.jobs.jobs() if job.query_id == query_id] == [4]


@pytest.mark.parametrize("deferrable", MODES)
def test_failing_query_fails_the_sensor_or_skips_with_soft_fail(
    dash_emulator: Any, dash_conn_id: str, deferrable: bool
) -> None:
    failing = 4  # the demo query with a bad column
    with pytest.raises(DashJobFailedError, match="no_such_column"):
        run_inline(_sensor(dash_conn_id, failing, deferrable=deferrable), make_context())
    with pytest.raises(AirflowSkipException, match="soft_fail"):
        run_inline(_sensor(dash_conn_id, failing, deferrable=deferrable, soft_fail=True), make_context())


def test_bad_condition_fails_at_dag_parse() -> None:
    with pytest.raises(DashConfigError, match="condition"):
        QueryResultSensor(task_id="wait", query_id=1, condition=42)  # type: ignore[arg-type]
    with pytest.raises(DashConfigError, match="unknown check spec key"):
        QueryResultSensor(task_id="wait", query_id=1, condition={"rows": 1})
