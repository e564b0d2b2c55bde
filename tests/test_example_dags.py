"""The example DAGs parse without errors, without network, and have the shape the docs describe."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[1] / "example_dags"

#: dag id -> {task id: operator class name}; and the edges (upstream, downstream).
EXPECTED: dict[str, tuple[dict[str, str], set[tuple[str, str]]]] = {
    "example_dash_scheduled_refresh": (
        {"refresh_orders": "RunQueryOperator", "export_csv": "_PythonDecoratedOperator"},
        {("refresh_orders", "export_csv")},
    ),
    "example_dash_refresh_dashboard": (
        {
            "load_sales": "_PythonDecoratedOperator",
            "refresh_dashboard": "RefreshDashboardOperator",
            "report": "_PythonDecoratedOperator",
        },
        {("load_sales", "refresh_dashboard"), ("refresh_dashboard", "report")},
    ),
    "example_dash_submit_and_sense": (
        {"submit": "RunQueryOperator", "wait_for_job": "JobSensor", "count_rows": "_PythonDecoratedOperator"},
        {("submit", "wait_for_job"), ("wait_for_job", "count_rows")},
    ),
    "example_dash_export_on_refresh": (
        {"export_finance": "ExportQueryResultOperator"},
        set(),
    ),
    "example_dash_quality_gate": (
        {
            "load_orders": "_PythonDecoratedOperator",
            "check_orders": "QueryCheckOperator",
            "refresh_dashboard": "RefreshDashboardOperator",
            "export_orders": "ExportQueryResultOperator",
        },
        {
            ("load_orders", "check_orders"),
            ("check_orders", "refresh_dashboard"),
            ("refresh_dashboard", "export_orders"),
        },
    ),
    "example_dash_tools": (
        {"backup_queries": "ExportQueriesOperator", "privacy_scan": "ScanOperator"},
        {("backup_queries", "privacy_scan")},
    ),
    "example_posthog_endpoint": (
        {
            "run_signups": "RunEndpointOperator",
            "check_signups": "EndpointCheckOperator",
            "export_events": "ExportEndpointResultOperator",
        },
        {("run_signups", "check_signups"), ("check_signups", "export_events")},
    ),
}

#: the connection attribute and default connection of each product's operators.
CONN_ATTRS = {"dash_conn_id": "dash_default", "posthog_conn_id": "posthog_default"}

#: the tasks that must wait in the triggerer (the point of the examples).
DEFERRABLE_TASKS = {
    ("example_dash_scheduled_refresh", "refresh_orders"),
    ("example_dash_refresh_dashboard", "refresh_dashboard"),
    ("example_dash_submit_and_sense", "wait_for_job"),
    ("example_dash_quality_gate", "check_orders"),
    ("example_posthog_endpoint", "run_signups"),
}


@pytest.fixture(scope="module")
def dagbag() -> Any:
    """The example DAGs, parsed with every outgoing network connection refused.

    ``dash_default`` is defined (no server behind it): the asset example reads it at parse to name
    the server in its asset's URI.
    """
    from airflow.dag_processing.dagbag import DagBag

    def no_network(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"an example DAG opened a connection to {address} while being parsed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        mp.setattr(socket.socket, "connect_ex", no_network)
        mp.setenv(
            "AIRFLOW_CONN_DASH_DEFAULT",
            json.dumps({"conn_type": "dash", "host": "https://redash.example.com", "password": "k"}),
        )
        return DagBag(dag_folder=EXAMPLE_DAGS, safe_mode=False)


def test_example_dags_import_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}


def test_every_example_file_defines_exactly_the_expected_dags(dagbag: Any) -> None:
    assert sorted(dagbag.dag_ids) == sorted(EXPECTED)
    files = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert files == {p.name for p in EXAMPLE_DAGS.glob("example_*.py")}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_example_dag_has_the_documented_tasks_and_order(dagbag: Any, dag_id: str) -> None:
    tasks, edges = EXPECTED[dag_id]
    dag = dagbag.dags[dag_id]
    assert {t.task_id: type(t).__name__ for t in dag.tasks} == tasks
    actual_edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert actual_edges == edges


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_example_dag_uses_the_default_connection_and_is_documented(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    used = {attr: {getattr(t, attr) for t in dag.tasks if hasattr(t, attr)} for attr in CONN_ATTRS}
    assert any(used.values()), "every example uses at least one of the provider's operators"
    for attr, ids in used.items():
        assert ids in (set(), {CONN_ATTRS[attr]})
        if ids:
            assert CONN_ATTRS[attr] in (dag.doc_md or "")
    assert "example" in dag.tags


@pytest.mark.parametrize(("dag_id", "task_id"), sorted(DEFERRABLE_TASKS))
def test_waiting_tasks_of_the_examples_are_deferrable(dagbag: Any, dag_id: str, task_id: str) -> None:
    assert dagbag.dags[dag_id].get_task(task_id).deferrable is True


def test_submit_task_does_not_wait_and_sensor_reads_its_job_id(dagbag: Any) -> None:
    dag = dagbag.dags["example_dash_submit_and_sense"]
    assert dag.get_task("submit").wait_for_completion is False
    sensor = dag.get_task("wait_for_job")
    assert "xcom_pull(task_ids='submit', key='job_id')" in sensor.job_id


def test_scheduled_refresh_parameters_render_from_the_logical_date(dagbag: Any) -> None:
    from airflow.sdk.execution_time import macros

    dag = dagbag.dags["example_dash_scheduled_refresh"]
    task = dag.get_task("refresh_orders")
    assert dag.schedule == "@daily"
    assert "parameters" in task.template_fields
    context = {"ds": "2024-03-01", "macros": macros, "params": {"region": "east"}}
    rendered = task.render_template(task.parameters, context)
    assert rendered["since"] == "2024-02-02"
    assert rendered["period"] == {"start": "2024-02-02", "end": "2024-03-01"}
    assert rendered["region"] == "east"


def test_dashboard_parameters_render_from_the_dag_params(dagbag: Any) -> None:
    from airflow.sdk.execution_time import macros

    task = dagbag.dags["example_dash_refresh_dashboard"].get_task("refresh_dashboard")
    context = {"ds": "2024-03-01", "macros": macros, "params": {"region": "west", "dashboard": "sales-overview"}}
    assert task.render_template(task.dashboard, context) == "sales-overview"
    rendered = task.render_template(task.parameters, context)
    assert rendered == {"region": "west", "period": {"start": "2024-01-31", "end": "2024-03-01"}}


def test_export_on_refresh_is_scheduled_on_the_watched_finance_asset(dagbag: Any) -> None:
    dag = dagbag.dags["example_dash_export_on_refresh"]
    (asset,) = dag.timetable.asset_condition.objects
    (watcher,) = asset.watchers
    assert (asset.name, asset.uri) == ("finance_totals", "redash://redash.example.com/queries/5")
    assert watcher.trigger.serialize()[1]["query_id"] == 5


def test_export_on_refresh_exports_the_result_the_event_carries(dagbag: Any) -> None:
    from types import SimpleNamespace

    task = dagbag.dags["example_dash_export_on_refresh"].get_task("export_finance")
    events = [SimpleNamespace(extra={"from_trigger": True, "payload": {"query_result_id": n}}) for n in (73, 74)]
    context = {"triggering_asset_events": {"finance_totals": events}}

    assert task.render_template(task.query_result_id, context) == "74"
    assert task.render_template(task.path, context).endswith("/finance_74.csv")


def test_privacy_terms_render_from_the_dag_params_as_a_list(dagbag: Any) -> None:
    dag = dagbag.dags["example_dash_tools"]
    task = dag.get_task("privacy_scan")
    assert dag.render_template_as_native_obj is True
    context = {"params": {"privacy_terms": ["a@example.com", "b@example.com"]}}
    rendered = task.render_template(task.terms, context, jinja_env=dag.get_template_env())
    assert rendered == ["a@example.com", "b@example.com"]
    assert dag.get_task("backup_queries").archived is True
