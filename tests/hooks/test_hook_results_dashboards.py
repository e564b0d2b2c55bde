"""DashHook against the emulator: results, streamed downloads, dashboards, server info."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashApiError, DashConfigError, DashNotFoundError
from airflow_provider_dash.hooks.dash import DashHook

from .conftest import HookFactory, count, query_api_key

PLAIN = 1


def _latest_result_id(hook: DashHook) -> int:
    return hook.get_latest_query_result(PLAIN).id


def test_get_query_result_has_rows_and_columns(hook: DashHook) -> None:
    result = hook.get_query_result(_latest_result_id(hook))
    assert result.row_count == 50
    assert [c.name for c in result.columns][:3] == ["id", "customer", "region"]


def test_unknown_result_is_not_found(hook: DashHook) -> None:
    with pytest.raises(DashNotFoundError, match="query result 99999 not found"):
        hook.get_query_result(99999)


@pytest.mark.parametrize("file_format", ["csv", "tsv", "json", "xlsx"])
def test_download_streams_to_a_path_atomically(hook: DashHook, tmp_path: Path, file_format: str) -> None:
    target = tmp_path / f"out.{file_format}"
    written = hook.download_query_result(_latest_result_id(hook), target, file_format=file_format)
    data = target.read_bytes()
    assert written == len(data) > 0
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left behind
    if file_format == "csv":
        assert data.startswith(b"id,customer,region")
        assert data.count(b"\n") >= 50
    elif file_format == "tsv":
        assert data.startswith(b"id\tcustomer\tregion")
    elif file_format == "json":
        assert len(json.loads(data)["query_result"]["data"]["rows"]) == 50
    else:
        assert data.startswith(b"PK")  # a zip container


def test_download_to_a_binary_file_object(hook: DashHook) -> None:
    out = io.BytesIO()
    written = hook.download_query_result(_latest_result_id(hook), out)
    assert written == len(out.getvalue())
    assert out.getvalue().startswith(b"id,customer")


def test_download_failure_leaves_no_file(hook: DashHook, tmp_path: Path) -> None:
    target = tmp_path / "missing.csv"
    with pytest.raises(DashNotFoundError):
        hook.download_query_result(99999, target)
    assert list(tmp_path.iterdir()) == []


def test_unsupported_format_lists_the_allowed_and_sends_nothing(hook: DashHook, emulator: Any) -> None:
    with pytest.raises(DashConfigError, match="use one of csv, json, tsv, xlsx"):
        hook.download_query_result(1, io.BytesIO(), file_format="xml")
    assert count(emulator) == 0


def test_query_key_reads_results_through_its_query(make_hook: HookFactory, emulator: Any) -> None:
    user_hook = make_hook()
    result_id = _latest_result_id(user_hook)
    hook = make_hook(key=query_api_key(emulator, PLAIN), query_id=PLAIN)
    out = io.BytesIO()
    hook.download_query_result(result_id, out)
    assert out.getvalue().startswith(b"id,customer")
    assert hook.get_query_result(result_id).row_count == 50
    assert count(emulator, route="/api/query_results/{query_result_id}") == 0


def test_list_dashboards_iterates_every_page(hook: DashHook, emulator: Any) -> None:
    dashboards = hook.list_dashboards(page_size=1)
    assert len(dashboards) == 3
    assert all(not d.is_archived for d in dashboards)
    assert count(emulator, route="/api/dashboards", method="GET", status=200) == 3


def test_get_dashboard_by_id_digits_and_slug(hook: DashHook) -> None:
    by_id = hook.get_dashboard(1)
    assert by_id.slug == "sales-overview"
    assert len(by_id.widgets) == 6
    assert sum(w.is_text for w in by_id.widgets) == 1
    assert hook.get_dashboard("1").id == 1
    assert hook.get_dashboard("sales-overview").id == 1


def test_unknown_dashboard_is_not_found(hook: DashHook) -> None:
    with pytest.raises(DashNotFoundError, match="dashboard 99999 not found"):
        hook.get_dashboard(99999)
    with pytest.raises(DashNotFoundError, match="dashboard 'no-such-board' not found"):
        hook.get_dashboard("no-such-board")


def test_create_edit_archive_dashboard(hook: DashHook) -> None:
    created = hook.create_dashboard("Ops board")
    assert created.is_draft
    renamed = hook.edit_dashboard(created.id, name="Ops board renamed")
    assert renamed.slug != created.slug
    assert renamed.version > created.version
    with pytest.raises(DashApiError, match="HTTP 409"):
        hook.edit_dashboard(created.id, name="x", version=created.version)
    archived = hook.archive_dashboard(created.id)
    assert archived.is_archived
    assert created.id not in [d.id for d in hook.list_dashboards()]


def test_session_and_data_sources(hook: DashHook) -> None:
    session = hook.get_session()
    assert session["client_config"]["version"]
    assert [ds["id"] for ds in hook.list_data_sources()] == [1]
