"""The PostHog example DAG runs against the emulator's demo data with dag.test(): deferred run, gate, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_posthog_endpoint.py"


def test_the_example_runs_checks_and_exports_every_row(
    ph: Any, ph_conn_id: str, run_dag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DASH_EXAMPLE_EXPORT_DIR", str(tmp_path))
    bag = DagBag(dag_folder=EXAMPLE, safe_mode=False)
    assert bag.import_errors == {}
    dag = bag.dags["example_posthog_endpoint"]

    result = run_dag(dag)

    assert result.state == "success"
    assert result.xcom("run_signups")["row_count"] == 90
    written = result.xcom("export_events")
    assert (written["rows"], written["pages"]) == (10_000, 4)
    (exported,) = tmp_path.iterdir()
    assert exported.name.startswith("events_")
    assert exported.suffix == ".jsonl"
    assert json.loads(exported.read_text().splitlines()[0])["id"] == 1
    assert ph.counters.executions("daily_signups", {"country": "DE"}) == 1  # the gate read the run's cached answer
