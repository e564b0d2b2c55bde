"""ExportQueryResultOperator against the emulator: formats, row counts, targets, atomicity, flat memory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from dag_helpers import make_context, run_inline

from airflow_provider_dash.exceptions import DashConfigError, DashConnectionError
from airflow_provider_dash.operators.dash import RunQueryOperator
from airflow_provider_dash.operators.export import ExportQueryResultOperator

TRICKY = (
    "SELECT 1 AS id, 'line' || char(10) || 'break' AS note, 'say \"hi\", twice' AS quote "
    "UNION ALL SELECT 2, NULL, 'tab' || char(9) || 'here' "
    "UNION ALL SELECT 3, '', 'plain'"
)


def _export(conn_id: str, **kwargs: Any) -> dict[str, Any]:
    return run_inline(ExportQueryResultOperator(task_id="export", dash_conn_id=conn_id, **kwargs), make_context())


@pytest.mark.parametrize(("file_format", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv_rows_are_counted_with_line_breaks_inside_values(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, tmp_path: Path, file_format: str, delimiter: str
) -> None:
    target = tmp_path / "out" / f"tricky.{file_format}"

    summary = _export(dash_conn_id, query_id=sql_query(TRICKY), path=str(target), format=file_format)

    parsed = list(csv.reader(io.StringIO(target.read_bytes().decode()), delimiter=delimiter))
    assert parsed[0] == ["id", "note", "quote"]
    assert parsed[1] == ["1", "line\nbreak", 'say "hi", twice']
    assert summary == {
        "path": str(target),
        "format": file_format,
        "rows": 3,
        "bytes": target.stat().st_size,
        "query_result_id": summary["query_result_id"],
    }
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left


def test_json_export_counts_the_rows_of_the_result(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, tmp_path: Path
) -> None:
    target = tmp_path / "tricky.json"
    summary = _export(dash_conn_id, query_id=sql_query(TRICKY), path=str(target), format="json")
    assert summary["rows"] == 3
    assert len(json.loads(target.read_text())["query_result"]["data"]["rows"]) == 3


def test_xlsx_export_is_written_but_not_counted(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, tmp_path: Path
) -> None:
    target = tmp_path / "tricky.xlsx"
    summary = _export(dash_conn_id, query_id=sql_query(TRICKY), path=str(target), format="xlsx")
    assert summary["rows"] is None
    assert target.read_bytes()[:2] == b"PK"


def test_empty_result_exports_the_header_and_zero_rows(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, tmp_path: Path
) -> None:
    target = tmp_path / "empty.csv"
    summary = _export(dash_conn_id, query_id=sql_query("SELECT 1 AS a WHERE 0"), path=str(target))
    assert summary["rows"] == 0


def test_export_to_a_file_uri_object_storage_path(
    dash_emulator: Any, dash_conn_id: str, dash_hook: Any, tmp_path: Path
) -> None:
    result_id = dash_emulator.seed_result(1)  # the demo orders: 300 rows
    uri = f"file://{tmp_path}/exports/orders.csv"

    summary = _export(dash_conn_id, query_result_id=result_id, path=uri)

    assert summary["path"] == uri
    assert summary["rows"] == 50  # the demo query 1 returns 50 rows
    expected = io.BytesIO()
    dash_hook.download_query_result(result_id, expected)
    assert (tmp_path / "exports" / "orders.csv").read_bytes() == expected.getvalue()
    assert os.listdir(tmp_path / "exports") == ["orders.csv"]


def test_templated_result_id_from_an_upstream_run_in_a_dag(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str, tmp_path: Path
) -> None:
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        run = RunQueryOperator(task_id="run", query_id=1, poll_interval=0.1, dash_conn_id=dash_conn_id)
        export = ExportQueryResultOperator(
            task_id="export",
            query_id=1,
            query_result_id="{{ ti.xcom_pull(task_ids='run') }}",
            path=str(tmp_path / "{{ ds }}" / "orders.tsv"),
            format="tsv",
            dash_conn_id=dash_conn_id,
        )
        run >> export

    result = run_dag(dag)

    assert result.state == "success"
    summary = result.xcom("export")
    assert summary["query_result_id"] == result.xcom("run")
    assert summary["rows"] == 50  # the demo query 1 returns 50 rows
    assert Path(summary["path"]).parent.name == result.dag_run.logical_date.strftime("%Y-%m-%d")
    assert dash_emulator.counters.executions(1) == 1  # the export did not run the query again


@pytest.fixture
def big(dash_emulator: Any) -> int:
    """A query over 100,000 rows (streamed by the emulator in many chunks)."""
    dash_emulator.add_table(
        "big",
        [("n", "INTEGER"), ("label", "TEXT")],
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000) SELECT n, 'row ' || n FROM c",
    )
    return int(dash_emulator.add_query("big", "SELECT n, label FROM big"))


def test_download_broken_midway_leaves_no_file_and_keeps_the_old_one(
    dash_emulator: Any, dash_conn_id: str, big: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "big.csv"
    target.write_text("yesterday's export\n")
    text_chunks = dash_emulator.results.text_chunks

    def break_after_two_chunks(*args: Any, **kwargs: Any) -> Any:
        for index, chunk in enumerate(text_chunks(*args, **kwargs)):
            if index == 2:
                raise ConnectionResetError("the server went away mid-download")
            yield chunk

    monkeypatch.setattr(dash_emulator.results, "text_chunks", break_after_two_chunks)

    with pytest.raises(DashConnectionError, match=r"broke after \d+ bytes"):
        _export(dash_conn_id, query_id=big, path=str(target))

    assert target.read_text() == "yesterday's export\n"
    assert os.listdir(tmp_path) == ["big.csv"]


def test_download_refused_leaves_no_file_at_the_final_path(
    dash_emulator: Any, dash_conn_id: str, tmp_path: Path
) -> None:
    result_id = dash_emulator.seed_result(1)
    dash_emulator.set_faults(drop_rate=1.0, routes=["/api/query_results/*"])
    uri = f"file://{tmp_path}/orders.csv"

    with pytest.raises(DashConnectionError):
        _export(dash_conn_id, query_result_id=result_id, path=uri)

    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"path": "x.csv"}, "query_id .*or query_result_id"),
        ({"path": "x.csv", "query_id": 1, "format": "xml"}, "xml"),
        ({"path": "x.csv", "query_result_id": 0}, "query_result_id"),
        ({"path": "", "query_id": 1}, "path"),
        ({"path": "x.csv", "query_id": 1, "wait_for_completion": False}, "wait_for_completion"),
    ],
)
def test_bad_export_arguments_fail_at_dag_parse(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(DashConfigError, match=text):
        ExportQueryResultOperator(task_id="export", **kwargs)


def test_a_million_row_export_keeps_memory_flat(dash_emulator: Any, dash_conn_id: str, tmp_path: Path) -> None:
    rows = 1_000_000
    dash_emulator.add_table(
        "million",
        [("n", "INTEGER"), ("label", "TEXT")],
        f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {rows}) SELECT n, 'r' || n FROM c",
    )
    result_id = dash_emulator.seed_result(sql="SELECT n, label FROM million")
    target = tmp_path / "million.csv"

    tracemalloc.start()
    try:
        summary = _export(dash_conn_id, query_result_id=result_id, path=str(target))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert summary["rows"] == rows
    assert summary["bytes"] == target.stat().st_size > 10_000_000
    print(f"1M-row export: {summary['bytes'] / 2**20:.1f} MiB written, peak traced memory {peak / 2**20:.1f} MiB")
    # Both the emulator (same process) and the export are traced; the file is ~14 MiB.
    assert peak < 64 * 2**20
