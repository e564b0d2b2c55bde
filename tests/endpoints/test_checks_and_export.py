"""The gates and the export on endpoint results: the one implementation of each check, every page, both modes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from dag_helpers import run_inline

from airflow_provider_dash.exceptions import DashCheckFailedError, DashConnectionError
from airflow_provider_dash.operators.posthog_checks import (
    EndpointCheckOperator,
    EndpointThresholdCheckOperator,
    EndpointValueCheckOperator,
)
from airflow_provider_dash.operators.posthog_export import ExportEndpointResultOperator

from .helpers import RUN, requests

START = dt.datetime(2024, 1, 1)
MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]


@pytest.mark.parametrize("deferrable", MODES)
def test_gates_pass_and_fail_on_every_row_of_every_page(
    ph: Any, ph_conn_id: str, run_dag: Any, dag_id: str, deferrable: bool
) -> None:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        EndpointCheckOperator(
            task_id="good", endpoint="events_export", page_size=3000, min_rows=10_000,
            column_checks={"id": {"unique": True, "null_count": 0}, "amount": {"min": 0}}, deferrable=deferrable,
        )  # fmt: skip
        EndpointCheckOperator(
            task_id="bad", endpoint="events_export", page_size=3000,
            column_checks={"amount": {"max": 1000}}, deferrable=deferrable,
        )  # fmt: skip
        EndpointValueCheckOperator(
            task_id="value", endpoint="daily_signups", limit=1, pass_value=["2024-01-01", 23], deferrable=deferrable
        )
        EndpointThresholdCheckOperator(
            task_id="threshold", endpoint="daily_signups", variables={"country": "DE"}, limit=1,
            min_threshold=0, deferrable=deferrable,
        )  # fmt: skip

    result = run_dag(dag)

    assert result.task_state("good") == "success"
    assert result.xcom("good")["row_count"] == 10_000
    assert result.task_state("bad") == "failed"
    assert result.task_state("value") == "success"
    assert result.task_state("threshold") == "failed"  # the first value is a date text, not a number
    # Each of the 4 pages is computed once: the second gate, and the worker's reads after a deferral,
    # are served by PostHog's cache.
    assert ph.counters.executions("events_export") == 4


def test_a_deferrable_gate_with_refresh_direct_runs_in_the_worker_and_computes_once(ph: Any, ph_conn_id: str) -> None:
    ph.materialize("daily_signups")  # "direct" is allowed on a materialized version only
    gate = EndpointCheckOperator(
        task_id="gate", endpoint="daily_signups", refresh="direct", min_rows=1, deferrable=True
    )

    triggers: list[Any] = []
    summary = run_inline(gate, triggers=triggers)

    assert triggers == []  # never deferred
    assert summary["row_count"] > 0
    assert ph.counters.executions("daily_signups") == 1


def test_a_failed_gate_names_the_endpoint_version_and_every_failure(ph: Any, ph_conn_id: str) -> None:
    gate = EndpointCheckOperator(
        task_id="gate",
        endpoint="events_export",
        page_size=4000,
        max_rows=5,
        column_checks={"amount": {"max": 1000}, "event": {"in": ["signup", "login"]}},
    )

    with pytest.raises(DashCheckFailedError) as caught:
        run_inline(gate)

    text = str(caught.value)
    assert "The check of endpoint 'events_export'" in text
    assert f"({ph.url}/project/{ph.project_id}/endpoints/events_export)" in text
    assert "failed on version 1 (10000 rows" in text
    assert len(caught.value.failures) == 3
    assert "more than max_rows=5" in caught.value.failures[0]


def test_a_gate_with_soft_fail_skips(ph: Any, ph_conn_id: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    gate = EndpointCheckOperator(task_id="gate", endpoint="daily_signups", max_rows=1, soft_fail=True)

    with pytest.raises(AirflowSkipException, match="Skipping \\(soft_fail\\)"):
        run_inline(gate)


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_export_writes_every_page(ph: Any, ph_conn_id: str, tmp_path: Path, deferrable: bool, file_format: str) -> None:
    target = tmp_path / "out" / f"events.{file_format}"
    export = ExportEndpointResultOperator(
        task_id="export", endpoint="events_export", path=str(target), format=file_format, page_size=3000,
        deferrable=deferrable,
    )  # fmt: skip

    written = run_inline(export)

    assert written["rows"] == 10_000
    assert written["pages"] == 4
    assert written["bytes"] == target.stat().st_size
    if file_format == "csv":
        with target.open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["id", "event", "day", "amount"]
        assert len(rows) == 10_001
        assert rows[1] == ["1", "login", "2024-01-02", "1.5"]
    else:
        lines = target.read_text().splitlines()
        assert len(lines) == 10_000
        assert json.loads(lines[-1]) == {"id": 10000, "event": "login", "day": "2024-01-11", "amount": 45.0}
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left


def test_a_broken_export_leaves_the_old_file_untouched(ph: Any, ph_conn_id: str, tmp_path: Path) -> None:
    target = tmp_path / "events.csv"
    target.write_text("old content\n")
    ph.fail_next_runs("connection_reset", 5, name="events_export")
    export = ExportEndpointResultOperator(task_id="export", endpoint="events_export", path=str(target))

    with pytest.raises(DashConnectionError):
        run_inline(export)

    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["events.csv"]
    assert requests(ph, RUN, "POST", 0) == 2  # one retry (the connection's budget), both dropped
