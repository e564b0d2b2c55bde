"""The OpenLineage events of Redash tasks, emitted by the real OpenLineage provider (file transport).

The emulator's data source 1 is type ``pg`` with host 127.0.0.1, port 5433, dbname sampledb, which
an admin's key reads and a plain user's key does not (``data_source_get.json``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_dash.operators.redash import RunQueryOperator
from airflow_provider_dash.operators.redash_dashboard import RefreshDashboardOperator

START = dt.datetime(2024, 1, 1)
RESULT_OF_QUERY = "/api/queries/{query_id}/results/{query_result_id}.{filetype}"
TOTALS = 5  # select region, count(*) as orders, sum(amount) as total from orders group by region ...


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=START, catchup=False)


def _names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def _run_query(dag_id: str, conn_id: str, query_id: int, run_dag: Any) -> Any:
    with _dag(dag_id) as dag:
        RunQueryOperator(task_id="run", query_id=query_id, dash_conn_id=conn_id)
    result = run_dag(dag)
    assert result.state == "success"
    return result


def test_run_query_event_names_the_tables_it_reads_by_the_postgres_naming(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any
) -> None:
    # A CTE is no table; an unqualified table is in the default schema; SQLite calls its schema "main".
    query_id = dash_emulator.add_query(
        "joined",
        "with big as (select * from orders where amount > 10) "
        "select b.region from big b join main.orders o on o.id = b.id",
    )

    _run_query(dag_id, dash_conn_id, query_id, run_dag)

    event = openlineage_events.of_task("run")
    assert _names(event["inputs"]) == [
        ("postgres://127.0.0.1:5433", "sampledb.public.orders"),
        ("postgres://127.0.0.1:5433", "sampledb.main.orders"),
    ]


def test_run_query_event_has_the_result_as_output_with_schema_sql_row_count_and_run_ids(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any
) -> None:
    result = _run_query(dag_id, dash_conn_id, TOTALS, run_dag)
    result_id = result.xcom("run")
    job_id = result.xcom("run", "job_id")

    event = openlineage_events.of_task("run")
    (output,) = event["outputs"]
    netloc = dash_emulator.url.split("://", 1)[1]
    assert (output["namespace"], output["name"]) == (f"redash://{netloc}", f"queries/{TOTALS}")
    fields = [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]]
    assert [name for name, _ in fields] == ["region", "orders", "total"]
    assert output["facets"]["version"]["datasetVersion"] == str(result_id)
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 4
    assert event["job"]["facets"]["sql"]["query"].startswith("select region, count(*) as orders")
    assert event["job"]["facets"]["sourceCodeLocation"]["url"] == f"{dash_emulator.url}/queries/{TOTALS}"
    redash = event["run"]["facets"]["redash"]
    assert (redash["queryId"], redash["jobId"], redash["queryResultId"]) == (TOTALS, job_id, result_id)
    assert event["run"]["facets"]["externalQuery"]["externalQueryId"] == job_id
    assert _names(event["inputs"]) == [("postgres://127.0.0.1:5433", "sampledb.public.orders")]


def test_plain_user_key_names_tables_by_the_data_source_and_logs_the_hint_once(
    dash_emulator: Any,
    dash_connection: Any,
    run_dag: Any,
    dag_id: str,
    openlineage_events: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn_id = dash_connection("dash_plain", key=dash_emulator.plain_user_key, retries=1)
    other = dash_emulator.add_query("other", "select count(*) as n from orders")
    caplog.set_level(logging.INFO, logger="airflow_provider_dash.lineage.redash")
    with _dag(dag_id) as dag:
        RunQueryOperator(task_id="run", query_id=TOTALS, dash_conn_id=conn_id)
        RunQueryOperator(task_id="other", query_id=other, dash_conn_id=conn_id)

    assert run_dag(dag).state == "success"

    netloc = dash_emulator.url.split("://", 1)[1]
    for task_id in ("run", "other"):
        event = openlineage_events.of_task(task_id)
        assert _names(event["inputs"]) == [(f"redash://{netloc}", "data_sources/1/orders")]
    hints = [r.getMessage() for r in caplog.records if "admin group" in r.getMessage()]
    assert len(hints) == 1, hints
    assert "data source 1" in hints[0]
    assert dash_emulator.plain_user_key not in openlineage_events.path.read_text() + hints[0]


def test_dashboard_refresh_lists_every_query_dataset_once(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any
) -> None:
    first = dash_emulator.add_query("a", "select region from orders")
    second = dash_emulator.add_query("b", "select count(*) as n from main.orders")
    third = dash_emulator.add_query("c", "select 1 as one")
    dashboard = dash_emulator.add_dashboard("lineage", [first, second, first, "a text widget", third])
    with _dag(dag_id) as dag:
        RefreshDashboardOperator(task_id="refresh", dashboard=dashboard, dash_conn_id=dash_conn_id)

    assert run_dag(dag).state == "success"

    event = openlineage_events.of_task("refresh")
    netloc = dash_emulator.url.split("://", 1)[1]
    assert _names(event["inputs"]) == [
        ("postgres://127.0.0.1:5433", "sampledb.public.orders"),
        ("postgres://127.0.0.1:5433", "sampledb.main.orders"),
    ]
    assert _names(event["outputs"]) == [(f"redash://{netloc}", f"queries/{q}") for q in (first, second, third)]
    redash = event["run"]["facets"]["redash"]
    assert redash["dashboardId"] == dashboard
    assert sorted(q["queryId"] for q in redash["queries"]) == sorted([first, second, third])


def test_a_failed_run_still_names_the_tables_its_query_reads(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any
) -> None:
    query_id = dash_emulator.add_query("broken", "select no_such_column from orders")
    with _dag(dag_id) as dag:
        RunQueryOperator(task_id="run", query_id=query_id, dash_conn_id=dash_conn_id)

    assert run_dag(dag).state == "failed"

    event = openlineage_events.of_task("run", "FAIL")
    assert _names(event["inputs"]) == [("postgres://127.0.0.1:5433", "sampledb.public.orders")]
    assert event["outputs"] == []


def test_the_export_reads_the_query_result_and_writes_the_file(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any, tmp_path: Any
) -> None:
    from airflow_provider_dash.operators.redash_export import ExportQueryResultOperator

    target = tmp_path / "totals.csv"
    with _dag(dag_id) as dag:
        ExportQueryResultOperator(task_id="export", query_id=TOTALS, path=str(target), dash_conn_id=dash_conn_id)

    assert run_dag(dag).state == "success"

    event = openlineage_events.of_task("export")
    netloc = dash_emulator.url.split("://", 1)[1]
    assert _names(event["inputs"]) == [
        ("postgres://127.0.0.1:5433", "sampledb.public.orders"),
        (f"redash://{netloc}", f"queries/{TOTALS}"),
    ]
    (output,) = event["outputs"]
    assert (output["namespace"], output["name"]) == ("file", str(target))
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 4
    assert output["outputFacets"]["outputStatistics"]["size"] == target.stat().st_size


def test_a_gate_reports_the_result_it_judged_without_fetching_it_again(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any
) -> None:
    from airflow_provider_dash.operators.redash_checks import QueryCheckOperator

    with _dag(dag_id) as dag:
        QueryCheckOperator(task_id="gate", query_id=TOTALS, min_rows=1, dash_conn_id=dash_conn_id)

    result = run_dag(dag)

    assert result.state == "success"
    (output,) = openlineage_events.of_task("gate")["outputs"]
    assert output["facets"]["version"]["datasetVersion"] == str(result.xcom("gate"))
    result_reads = sum(
        n
        for (route, method, _), n in dash_emulator.counters.request_table().items()
        if method == "GET" and route in ("/api/query_results/{query_result_id}", RESULT_OF_QUERY)
    )
    assert result_reads == 1


def test_the_result_sensor_reports_the_result_that_passed(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, openlineage_events: Any
) -> None:
    from airflow_provider_dash.sensors.redash_checks import QueryResultSensor

    with _dag(dag_id) as dag:
        QueryResultSensor(task_id="sense", query_id=TOTALS, condition={"min_rows": 1}, dash_conn_id=dash_conn_id)

    result = run_dag(dag)

    assert result.state == "success"
    event = openlineage_events.of_task("sense")
    (output,) = event["outputs"]
    assert output["facets"]["version"]["datasetVersion"] == str(result.xcom("sense"))
    assert event["run"]["facets"]["redash"]["queryResultId"] == result.xcom("sense")
