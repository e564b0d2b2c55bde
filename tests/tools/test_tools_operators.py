"""The tool operators against the emulator: backup, privacy scan (fails on a match), clone; checked at DAG parse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dag_helpers import make_context, run_inline

from airflow_provider_dash.exceptions import DashConfigError, DashFindingsError
from airflow_provider_dash.operators.redash_tools import (
    SCAN_REPORT_KEY,
    CloneDashboardOperator,
    ExportQueriesOperator,
    ScanOperator,
)

EMAIL = "jane.doe@example.com"


def test_the_backup_operator_writes_every_query_then_only_what_changed(
    dash_emulator: Any, dash_conn_id: str, tmp_path: Path
) -> None:
    backup = ExportQueriesOperator(task_id="backup", dash_conn_id=dash_conn_id, path="{{ params.folder }}")
    context = make_context()
    context["params"] = {"folder": str(tmp_path / "backup")}
    backup.render_template_fields(context)

    first = run_inline(backup, context)
    dash_emulator.add_query("new", "select 1")
    second = run_inline(backup, context)

    assert first["written"] == [1, 2, 3, 4, 5, 6, 7]
    assert (second["written"], second["unchanged"]) == ([9], 7)
    assert (tmp_path / "backup" / "query_9.sql").exists()


def test_the_backup_operator_fails_naming_each_query_it_could_not_write(
    dash_emulator: Any, dash_conn_id: str, tmp_path: Path
) -> None:
    dash_emulator.set_faults(routes=["/api/queries/4"], methods=["GET"], error_rate=1.0, error_statuses=(500,))

    with pytest.raises(DashFindingsError, match=r"1 of 7 queries could not be exported.*\nquery 4: GET .*HTTP 500"):
        run_inline(
            ExportQueriesOperator(task_id="backup", dash_conn_id=dash_conn_id, path=str(tmp_path)), make_context()
        )
    assert (tmp_path / "query_5.sql").exists()


def test_the_scan_operator_passes_when_clean_and_fails_listing_every_match(
    dash_emulator: Any, dash_conn_id: str
) -> None:
    clean = run_inline(ScanOperator(task_id="scan", dash_conn_id=dash_conn_id, terms=[EMAIL]), make_context())
    planted = dash_emulator.add_query("contact", f"select '{EMAIL}'", description=EMAIL)
    context = make_context()

    with pytest.raises(DashFindingsError) as failure:
        run_inline(ScanOperator(task_id="scan", dash_conn_id=dash_conn_id, terms=EMAIL), context)

    assert clean["matches"] == []
    url = f"{dash_emulator.url}/queries/{planted}"
    assert failure.value.findings == (
        f"query {planted} SQL: '{EMAIL}' ({url})",
        f"query {planted} description: '{EMAIL}' ({url})",
    )
    report = context["ti"].xcoms[SCAN_REPORT_KEY]
    assert [m["where"] for m in report["matches"]] == ["SQL", "description"]


def test_the_clone_operator_clones_onto_another_connection_and_pushes_the_link(
    dash_connection: Any, dash_emulator: Any, second_emulator: Any
) -> None:
    source = dash_connection("tools_source", emulator=dash_emulator, retries=1)
    target = dash_connection("tools_target", emulator=second_emulator, retries=1)
    context = make_context()

    planned = run_inline(
        CloneDashboardOperator(
            task_id="plan", dash_conn_id=source, dashboard="sales-overview", to_conn_id=target, dry_run=True
        ),
        make_context(),
    )
    done = run_inline(
        CloneDashboardOperator(task_id="clone", dash_conn_id=source, dashboard="sales-overview", to_conn_id=target),
        context,
    )

    assert planned["result"] is None
    assert [q["id"] for q in planned["plan"]["queries"]] == [1, 2, 5, 6]
    assert done["result"]["url"] == f"{second_emulator.url}/dashboards/1-copy-of-sales-overview"
    assert context["ti"].xcoms["dashboard_url"] == done["result"]["url"]
    assert len(second_emulator.objects.queries) == 4


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ScanOperator(task_id="t", terms=[]), "terms must be one or more non-empty texts"),
        (lambda: ScanOperator(task_id="t", terms=["ok", " "]), "terms must be one or more non-empty texts"),
        (lambda: ExportQueriesOperator(task_id="t", path=""), "path must be a local folder or a URI"),
        (lambda: ExportQueriesOperator(task_id="t", path="/x", concurrency=0), "concurrency must be a whole number"),
        (lambda: CloneDashboardOperator(task_id="t", dashboard=True), "dashboard must be an id or a slug"),
    ],
)
def test_bad_arguments_fail_at_dag_parse(make: Any, message: str) -> None:
    with pytest.raises(DashConfigError, match=message):
        make()
