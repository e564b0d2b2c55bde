"""The quality-gate example DAG parses without network and has the documented shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_dash_quality_gate.py"


@pytest.fixture(scope="module")
def dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=EXAMPLE, safe_mode=False)
    assert bag.import_errors == {}
    return bag.dags["example_dash_quality_gate"]


def test_refresh_runs_only_after_a_passing_gate(dag: Any) -> None:
    # Tasks and edges are checked with the other examples in tests/test_example_dags.py.
    assert dag.get_task("refresh_dashboard").trigger_rule == "all_success"


def test_gate_waits_in_the_triggerer_and_the_export_reads_the_checked_result(dag: Any) -> None:
    gate, export = dag.get_task("check_orders"), dag.get_task("export_orders")
    assert gate.deferrable is True
    assert gate.spec.min_rows == 1
    assert "xcom_pull(task_ids='check_orders')" in export.query_result_id
    assert {t.dash_conn_id for t in dag.tasks if hasattr(t, "dash_conn_id")} == {"dash_default"}
