"""RunQueryOperator against the emulator: dag.test() in both modes, and direct calls for the texts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import TaskDeferred
from dag_helpers import job_id_pushed, make_context, run_in_thread, run_inline, run_trigger

from airflow_provider_dash.exceptions import (
    DashConfigError,
    DashError,
    DashJobCancelledError,
    DashJobFailedError,
    DashTimeoutError,
)
from airflow_provider_dash.models import JobStatus
from airflow_provider_dash.operators.dash import RunQueryOperator
from airflow_provider_dash.sensors.dash import JobSensor

START = dt.datetime(2024, 1, 1)
PLAIN, PARAMETERIZED, SLOW, FAILING = 1, 2, 3, 4
MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False)


@pytest.mark.parametrize("deferrable", MODES)
def test_cached_answer_returns_its_result_id_at_once(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    result_id = dash_emulator.seed_result(PLAIN)
    with _dag(dag_id) as dag:
        RunQueryOperator(task_id="run", query_id=PLAIN, max_age=None, deferrable=deferrable, dash_conn_id=dash_conn_id)

    result = run_dag(dag)

    assert result.state == "success"
    assert result.xcom("run") == result_id
    assert result.xcom("run", "job_id") is None
    assert dash_emulator.counters.executions(PLAIN) == 0


@pytest.mark.parametrize("deferrable", MODES)
def test_job_result_id_is_returned_and_links_point_at_the_query(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    dash_emulator.time_scale = 20  # the 5 s query takes 0.25 s
    with _dag(dag_id) as dag:
        RunQueryOperator(
            task_id="run", query_id=SLOW, deferrable=deferrable, poll_interval=0.5, dash_conn_id=dash_conn_id
        )

    result = run_dag(dag)

    assert result.state == "success"
    job = dash_emulator.job(result.xcom("run", "job_id"))
    assert job["status"] == 3
    assert result.xcom("run") == job["query_result_id"]
    assert result.xcom("run", "query_url") == f"{dash_emulator.url}/queries/{SLOW}"
    assert result.xcom("run", "_link_RedashQueryLink") == f"{dash_emulator.url}/queries/{SLOW}"
    assert dash_emulator.counters.executions(SLOW) == 1


def test_parameters_are_rendered_from_jinja(dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str) -> None:
    with _dag(dag_id) as dag:
        RunQueryOperator(
            task_id="run",
            query_id="{{ params.query }}",
            parameters={"since": "{{ ds }}", "min_qty": 2},
            params={"query": PARAMETERIZED},
            deferrable=True,
            poll_interval=0.5,
            dash_conn_id=dash_conn_id,
        )

    result = run_dag(dag)

    assert result.state == "success"
    ds = result.dag_run.logical_date.strftime("%Y-%m-%d")
    sent = [params for (query_id, params) in dash_emulator.counters.execution_table() if query_id == PARAMETERIZED]
    assert len(sent) == 1
    assert f'"since": "{ds}"' in sent[0]
    assert '"min_qty": 2' in sent[0]
    # The other parameters came from the query's saved defaults.
    assert '"region": "north"' in sent[0]


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_submit_without_waiting_then_a_job_sensor_finishes_it(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, mode: str
) -> None:
    dash_emulator.time_scale = 10
    with _dag(dag_id) as dag:
        submit = RunQueryOperator(task_id="submit", query_id=SLOW, wait_for_completion=False, dash_conn_id=dash_conn_id)
        sense = JobSensor(
            task_id="sense",
            job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}",
            query_id=SLOW,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
            poll_interval=0.2,
            poke_interval=0.2,
            timeout=60,
            dash_conn_id=dash_conn_id,
        )
        submit >> sense

    result = run_dag(dag)

    assert result.state == "success"
    assert result.xcom("submit") is None
    job_id = result.xcom("submit", "job_id")
    assert result.xcom("sense") == dash_emulator.job(job_id)["query_result_id"]


@pytest.mark.parametrize("deferrable", MODES)
def test_failed_job_fails_the_task_with_redashs_error_text(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    operator = RunQueryOperator(
        task_id="run", query_id=FAILING, deferrable=deferrable, poll_interval=0.2, dash_conn_id=dash_conn_id
    )
    with pytest.raises(DashJobFailedError) as raised:
        run_inline(operator, make_context())

    assert "failed: " in str(raised.value)
    assert f"of query {FAILING}" in str(raised.value)
    assert 'column "no_such_column" does not exist' in str(raised.value)  # the database's text, via Redash
    assert "Username:" not in str(raised.value)

    with _dag(dag_id) as dag:
        RunQueryOperator(
            task_id="run", query_id=FAILING, deferrable=deferrable, poll_interval=0.2, dash_conn_id=dash_conn_id
        )
    assert run_dag(dag).task_state("run") == "failed"


def test_cancelled_job_fails_the_deferred_task_as_cancelled(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    operator = RunQueryOperator(task_id="run", query_id=SLOW, deferrable=True, dash_conn_id=dash_conn_id)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    job_id = context["ti"].xcoms["job_id"]
    dash_hook.cancel_job(job_id, SLOW)  # someone cancels it in Redash's UI

    event = run_trigger(deferred.value.trigger)
    with pytest.raises(DashJobCancelledError, match=f"Job {job_id} of query {SLOW} was cancelled: Query cancelled"):
        operator.execute_complete(context, event=event)


@pytest.mark.parametrize("deferrable", MODES)
def test_timeout_cancels_the_job_and_says_so(dash_emulator: Any, dash_conn_id: str, deferrable: bool) -> None:
    operator = RunQueryOperator(
        task_id="run", query_id=SLOW, timeout=0.5, poll_interval=0.2, deferrable=deferrable, dash_conn_id=dash_conn_id
    )
    context = make_context()

    with pytest.raises(DashTimeoutError) as raised:
        run_inline(operator, context)

    job = dash_emulator.job(context["ti"].xcoms["job_id"])
    assert job["status"] == 4
    assert job["error"] == "Query cancelled by user."
    assert "0.5 s" in str(raised.value)
    assert "the job was cancelled" in str(raised.value)


def test_on_kill_cancels_the_job_this_task_started(dash_emulator: Any, dash_conn_id: str) -> None:
    operator = RunQueryOperator(task_id="run", query_id=SLOW, poll_interval=0.2, dash_conn_id=dash_conn_id)
    context = make_context()
    submitted = job_id_pushed(context)

    thread, outcome = run_in_thread(operator, context)
    assert submitted.wait(10)
    operator.on_kill()
    thread.join(10)

    job = dash_emulator.job(context["ti"].xcoms["job_id"])
    assert job["error"] == "Query cancelled by user."
    assert isinstance(outcome[0], DashJobCancelledError)


def test_on_kill_leaves_a_job_shared_with_another_run_alone(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    dash_emulator.time_scale = 5
    other = dash_hook.execute_query(SLOW, max_age=0).job  # another run of the same SQL, already running
    assert dash_hook.get_job(other.id, SLOW).status is JobStatus.STARTED
    # ... for a while: a job that started before this task's request reached the server is shared
    dash_emulator.jobs.get(other.id).started_at -= dt.timedelta(seconds=30)
    operator = RunQueryOperator(task_id="run", query_id=SLOW, poll_interval=0.2, dash_conn_id=dash_conn_id)
    context = make_context()
    submitted = job_id_pushed(context)

    thread, outcome = run_in_thread(operator, context)
    assert submitted.wait(10)
    operator.on_kill()
    thread.join(10)

    assert context["ti"].xcoms["job_id"] == other.id
    assert dash_emulator.job(other.id)["status"] == 3  # finished: nobody cancelled it
    assert outcome[0] == dash_emulator.job(other.id)["query_result_id"]
    logged = capfd.readouterr().out
    assert f"Not cancelling job {other.id}" in logged
    assert "Redash shares one job" in logged


def test_on_kill_with_cancel_on_kill_false_leaves_the_job(dash_emulator: Any, dash_conn_id: str) -> None:
    dash_emulator.time_scale = 5
    operator = RunQueryOperator(
        task_id="run", query_id=SLOW, poll_interval=0.2, cancel_on_kill=False, dash_conn_id=dash_conn_id
    )
    context = make_context()
    submitted = job_id_pushed(context)

    thread, outcome = run_in_thread(operator, context)
    assert submitted.wait(10)
    operator.on_kill()
    thread.join(10)

    assert dash_emulator.job(context["ti"].xcoms["job_id"])["status"] == 3
    assert outcome[0] == dash_emulator.job(context["ti"].xcoms["job_id"])["query_result_id"]


@pytest.mark.parametrize("deferrable", MODES)
def test_a_retry_reattaches_to_the_running_job_instead_of_executing_again(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    dash_emulator.time_scale = 5  # the 5 s query runs 1 s
    # Job polls fail until the first try has failed; its retry callback lifts the fault.
    dash_emulator.set_faults(error_rate=1.0, error_statuses=(503,), routes=["/api/queries/*/jobs/*"], methods=["GET"])
    with _dag(dag_id) as dag:
        RunQueryOperator(
            task_id="run",
            query_id=SLOW,
            deferrable=deferrable,
            poll_interval=0.2,
            retries=1,
            retry_delay=dt.timedelta(seconds=0),
            on_retry_callback=lambda context: dash_emulator.clear_faults(),
            dash_conn_id=dash_conn_id,
        )

    result = run_dag(dag)

    assert result.state == "success"
    assert result.try_number("run") == 2
    assert dash_emulator.counters.executions(SLOW) == 1
    assert result.xcom("run") == dash_emulator.job(result.xcom("run", "job_id"))["query_result_id"]


def test_a_retry_returns_the_result_of_a_job_that_finished_meanwhile(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any
) -> None:
    dash_emulator.time_scale = 20
    dash_emulator.set_faults(error_rate=1.0, error_statuses=(503,), routes=["/api/queries/*/jobs/*"], methods=["GET"])
    context = make_context()  # the task's state store survives from try to try
    with pytest.raises(DashError):
        RunQueryOperator(task_id="run", query_id=SLOW, poll_interval=0.1, dash_conn_id=dash_conn_id).execute(context)
    dash_emulator.clear_faults()
    job_id = context["ti"].xcoms["job_id"]
    finished = dash_hook.wait_for_job(job_id, query_id=SLOW, poll_interval=0.1)

    retry = RunQueryOperator(task_id="run", query_id=SLOW, dash_conn_id=dash_conn_id)
    assert retry.execute(context) == finished.query_result_id
    assert dash_emulator.counters.executions(SLOW) == 1
    assert context["task_state_store"].values == {}  # forgotten once the task succeeded


def test_without_task_state_store_every_try_submits(dash_emulator: Any, dash_conn_id: str) -> None:
    dash_emulator.time_scale = 20
    operator = RunQueryOperator(task_id="run", query_id=PLAIN, poll_interval=0.1, dash_conn_id=dash_conn_id)
    assert isinstance(operator.execute(make_context(state_store=False)), int)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"query_id": "seven"}, "query_id"),
        ({"query_id": True}, "query_id"),
        ({"query_id": 1, "max_age": -5}, "max_age"),
        ({"query_id": 1, "poll_interval": 0}, "poll_interval"),
        ({"query_id": 1, "timeout": -1}, "timeout"),
        ({"query_id": 1, "parameters": ["a"]}, "parameters"),
    ],
)
def test_bad_arguments_fail_at_dag_parse(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(DashConfigError, match=text):
        RunQueryOperator(task_id="run", **kwargs)


def test_templated_arguments_are_checked_when_rendered(dash_emulator: Any, dash_conn_id: str) -> None:
    operator = RunQueryOperator(task_id="run", query_id="{{ params.q }}", max_age="{{ params.a }}")
    operator.query_id, operator.max_age = "1", "-3"  # what rendering produced
    with pytest.raises(DashConfigError, match="max_age"):
        operator.execute(make_context())


def test_execution_timeout_is_honoured_while_deferred(dash_emulator: Any, dash_conn_id: str) -> None:
    operator = RunQueryOperator(
        task_id="run",
        query_id=SLOW,
        execution_timeout=dt.timedelta(seconds=0.5),
        poll_interval=0.1,
        deferrable=True,
        dash_conn_id=dash_conn_id,
    )
    context = make_context()
    triggers: list[Any] = []

    with pytest.raises(DashTimeoutError, match=r"execution_timeout=0\.5 s.*the job was cancelled"):
        run_inline(operator, context, triggers)

    assert triggers[0].end_time == pytest.approx(context["ti"].start_date.timestamp() + 0.5)
    assert dash_emulator.job(context["ti"].xcoms["job_id"])["error"] == "Query cancelled by user."
