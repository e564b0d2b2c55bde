"""RunEndpointOperator: dag.test() in both modes, cancel on timeout and on kill, a 429 storm, variables
errors before any run, paging 10,000 rows, G1 and G3 servers; and direct calls for the texts."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from airflow.sdk import DAG
from dag_helpers import make_context, run_in_thread, run_inline

from airflow_provider_dash.exceptions import DashApiError, DashConfigError, DashError, DashTimeoutError
from airflow_provider_dash.operators.posthog import RunEndpointOperator
from airflow_provider_dash.triggers.posthog import EndpointRunTrigger

from .helpers import QUERY, RUN, requests, wait_for

START = dt.datetime(2024, 1, 1)
MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False)


@pytest.mark.parametrize("deferrable", MODES)
def test_run_returns_a_summary_and_pushes_the_endpoint_link(
    ph: Any, ph_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    with _dag(dag_id) as dag:
        RunEndpointOperator(
            task_id="run", endpoint="daily_signups", variables={"country": "{{ params.country }}"},
            params={"country": "DE"}, deferrable=deferrable,
        )  # fmt: skip

    result = run_dag(dag)

    assert result.state == "success"
    summary = result.xcom("run")
    assert summary["columns"] == ["day", "signups"]
    assert (summary["row_count"], summary["pages"], summary["version"], summary["is_cached"]) == (90, 1, 1, False)
    assert summary["execution_id"]
    assert "rows" not in summary  # never the rows unless asked
    url = f"{ph.url}/project/{ph.project_id}/endpoints/daily_signups"
    assert result.xcom("run", "endpoint_url") == url
    assert result.xcom("run", "_link_PostHogEndpointLink") == url
    assert result.xcom("run", "client_query_id") == summary["client_query_id"]
    assert ph.counters.executions("daily_signups", {"country": "DE"}) == 1


@pytest.mark.parametrize("deferrable", MODES)
def test_return_rows_puts_the_rows_in_xcom_up_to_the_cap(
    ph: Any, ph_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    with _dag(dag_id) as dag:
        RunEndpointOperator(task_id="few", endpoint="daily_signups", limit=3, return_rows=True, deferrable=deferrable)
        RunEndpointOperator(
            task_id="many", endpoint="daily_signups", return_rows=True, max_xcom_rows=10, deferrable=deferrable
        )

    result = run_dag(dag)

    assert result.xcom("few")["rows"] == [["2024-01-01", 23], ["2024-01-02", 30], ["2024-01-03", 37]]
    assert result.task_state("many") == "failed"
    assert result.xcom("many") is None
    # after a deferral the rows were read again from PostHog's cache, not computed again
    assert ph.counters.executions("daily_signups") == 2


@pytest.mark.parametrize("deferrable", MODES)
def test_every_page_of_10000_rows_is_fetched(
    ph: Any, ph_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    with _dag(dag_id) as dag:
        RunEndpointOperator(
            task_id="all", endpoint="events_export", fetch_all=True, page_size=1000, deferrable=deferrable
        )

    result = run_dag(dag)

    summary = result.xcom("all")
    assert (summary["row_count"], summary["pages"], summary["has_more"]) == (10_000, 10, False)
    assert len(summary["execution_ids"]) == 10
    assert requests(ph, RUN, "POST", 200) == 10


@pytest.mark.parametrize("deferrable", MODES)
def test_variable_errors_fail_the_task_before_any_run(
    ph: Any, ph_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    with _dag(dag_id) as dag:
        RunEndpointOperator(task_id="run", endpoint="daily_signups", variables={"countr": "DE"}, deferrable=deferrable)

    result = run_dag(dag)

    assert result.task_state("run") == "failed"
    assert requests(ph, RUN) == 0


def test_the_variable_error_names_the_endpoint_and_the_allowed_names(ph: Any, ph_conn_id: str) -> None:
    operator = RunEndpointOperator(task_id="run", endpoint="daily_signups", variables={"countr": "DE"})

    with pytest.raises(DashError, match=r"endpoint 'daily_signups' has no variable.*'countr'.*variables are: country"):
        run_inline(operator)
    assert requests(ph, RUN) == 0


@pytest.mark.parametrize("deferrable", MODES)
def test_a_429_storm_is_ridden_out(ph: Any, ph_connection: Any, run_dag: Any, dag_id: str, deferrable: bool) -> None:
    ph_connection(retries=5)
    ph.set_faults(rate_limit_every=2, retry_after=1)

    with _dag(dag_id) as dag:
        RunEndpointOperator(task_id="run", endpoint="daily_signups", deferrable=deferrable)

    result = run_dag(dag)

    assert result.state == "success"
    assert ph.counters.requests(status=429) >= 1
    assert ph.counters.executions("daily_signups") == 1


@pytest.mark.parametrize("deferrable", MODES)
def test_g1_server(ph_g1: Any, ph_connection: Any, run_dag: Any, dag_id: str, deferrable: bool) -> None:
    ph_connection(emulator=ph_g1)
    with _dag(dag_id) as dag:
        RunEndpointOperator(
            task_id="run", endpoint="daily_signups", variables={"country": "FR"}, refresh="force", deferrable=deferrable
        )
        RunEndpointOperator(task_id="all", endpoint="events_export", fetch_all=True, deferrable=deferrable)

    result = run_dag(dag)

    assert result.state == "success"
    assert result.xcom("run")["row_count"] == 90
    assert result.xcom("all")["row_count"] == 100  # one run: a G1 server cannot page
    assert result.xcom("all")["has_more"] is True
    assert requests(ph_g1, RUN, "POST", 400) == 0  # G1 detected from the endpoint's shape: only G1 keys sent
    assert ph_g1.counters.executions("daily_signups", {"country": "FR"}) == 1


def test_bad_arguments_fail_at_parse_naming_them() -> None:
    with pytest.raises(DashConfigError, match="endpoint must be a PostHog endpoint name"):
        RunEndpointOperator(task_id="a", endpoint="1 bad name")
    with pytest.raises(DashConfigError, match="refresh must be one of"):
        RunEndpointOperator(task_id="b", endpoint="ok", refresh="blocking")
    with pytest.raises(DashConfigError, match="limit must be a whole number >= 1"):
        RunEndpointOperator(task_id="c", endpoint="ok", limit=0)
    with pytest.raises(DashConfigError, match="not both"):
        RunEndpointOperator(task_id="d", endpoint="ok", limit=5, fetch_all=True)
    with pytest.raises(DashConfigError, match="variables of endpoint 'ok' must be a dict"):
        RunEndpointOperator(task_id="e", endpoint="ok", variables=[1])


# ---------------------------------------------------------------- cancel on timeout and on kill


@pytest.mark.parametrize("deferrable", MODES)
def test_timeout_cancels_the_run_through_delete_query(ph: Any, ph_conn_id: str, deferrable: bool) -> None:
    operator = RunEndpointOperator(task_id="run", endpoint="slow_signups", timeout=1.0, deferrable=deferrable)
    context = make_context()

    with pytest.raises(
        DashTimeoutError, match=r"slow_signups.*cancel of query airflow-\w+: Cancelled query on clickhouse"
    ):
        run_inline(operator, context)

    query_id = context["ti"].xcoms["client_query_id"]
    assert requests(ph, QUERY, "DELETE", 200) == 1
    assert f"/api/projects/{ph.project_id}/query/{query_id}/" in ph.counters.targets()
    wait_for(lambda: not ph.in_flight())
    assert ph.counters.executions("slow_signups") == 0  # stopped before it computed


def test_kill_in_the_worker_cancels_the_held_run(ph: Any, ph_conn_id: str) -> None:
    operator = RunEndpointOperator(task_id="run", endpoint="slow_signups")
    context = make_context()
    thread, outcome = run_in_thread(operator, context)
    query_id = wait_for(lambda: (ph.in_flight() or [None])[0])
    operator.on_kill()
    thread.join(10)

    assert query_id == context["ti"].xcoms["client_query_id"]
    assert isinstance(outcome[0], DashApiError)
    assert outcome[0].status == 500  # the held request ends with the cancel's error, and is not sent again
    assert requests(ph, QUERY, "DELETE", 200) == 1
    assert requests(ph, RUN, "POST") == 1
    assert not ph.in_flight()


def test_kill_while_deferred_cancels_the_held_run(ph: Any, ph_conn_id: str) -> None:
    trigger = EndpointRunTrigger("slow_signups", ph_conn_id, client_query_id="airflow-killed-1")

    async def kill() -> None:
        task = asyncio.ensure_future(trigger.run().__anext__())
        while not ph.in_flight():  # the run is held on the server
            await asyncio.sleep(0.01)
        task.cancel()
        await trigger.on_kill()
        await trigger.cleanup()

    asyncio.run(kill())

    assert requests(ph, QUERY, "DELETE", 200) == 1
    assert f"/api/projects/{ph.project_id}/query/airflow-killed-1/" in ph.counters.targets()
    wait_for(lambda: not ph.in_flight())


@pytest.mark.parametrize("deferrable", MODES)
def test_a_project_secret_key_runs_without_reading_the_endpoint(
    ph: Any, ph_connection: Any, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    ph_connection(key=ph.secret_key)
    with _dag(dag_id) as dag:
        RunEndpointOperator(
            task_id="run", endpoint="events_export", fetch_all=True, page_size=5000, deferrable=deferrable
        )

    result = run_dag(dag)

    assert result.state == "success"
    assert (result.xcom("run")["row_count"], result.xcom("run")["pages"]) == (10_000, 2)
    assert ph.counters.requests(status=401) == 0  # nothing a phs_ key may not do was sent
    assert ph.counters.requests(status=403) == 0
