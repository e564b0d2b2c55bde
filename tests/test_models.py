"""Parsing what the server sends: typed views, and DashResponseError (never KeyError) on bad shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashResponseError
from airflow_provider_dash.models import (
    Dashboard,
    Job,
    JobStatus,
    MappingType,
    ParameterType,
    Query,
    QueryResult,
    QueryRun,
)

RECORDINGS = Path(__file__).resolve().parents[1].parent / "shared" / "redash-api" / "recordings"


def _recorded(name: str, label: str) -> Any:
    if not RECORDINGS.is_dir():
        pytest.skip(f"recordings not found at {RECORDINGS}")
    data = json.loads((RECORDINGS / name).read_text())
    for call in data["calls"]:
        if call.get("label") == label:
            return call["response"]["json"]
    raise AssertionError(f"no call labelled {label!r} in {name}")


def test_cancelled_job_reports_status_4_and_is_a_cancellation() -> None:
    body = _recorded("job_cancel_queued.json", "after cancelling queued job")
    job = Job.from_json(body)
    assert job.status is JobStatus.FAILED
    assert job.is_cancelled
    assert not job.is_failed
    assert job.is_terminal


def test_failed_job_is_a_failure_not_a_cancellation() -> None:
    job = Job.from_json({"job": {"id": "j", "status": 4, "error": "column x does not exist"}})
    assert job.is_failed
    assert not job.is_cancelled


def test_finished_job_carries_result_id() -> None:
    body = _recorded("post_query_results_max_age_0_job.json", "fetch the produced result")
    result = QueryResult.from_json(body)
    assert result.id == 1
    assert result.row_count == 50
    assert [c.name for c in result.columns][:2] == ["id", "customer"]
    assert result.columns[1].type is None  # text columns have a null type on a real server


def test_finished_job_without_result_id_is_rejected() -> None:
    with pytest.raises(DashResponseError, match="names no query_result_id"):
        Job.from_json({"job": {"id": "j", "status": 3}})


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"job": None},
        {"job": {"status": 1}},
        {"job": {"id": "j"}},
        {"job": {"id": "j", "status": "1"}},
        {"job": {"id": "j", "status": 9}},
        {"job": {"id": "j", "status": True}},
    ],
)
def test_malformed_job_raises_dash_response_error(body: Any) -> None:
    with pytest.raises(DashResponseError):
        Job.from_json(body)


def test_execute_answer_is_either_a_cached_result_or_a_job() -> None:
    cached = QueryRun.from_json(_recorded("post_query_results_cached.json", "max_age 86400 -> cached query_result"))
    assert cached.is_cached
    assert cached.query_result_id == 1
    job = QueryRun.from_json(_recorded("post_query_results_max_age_0_job.json", "execute with max_age 0 -> job"))
    assert not job.is_cached
    assert job.job is not None
    assert job.job.status is JobStatus.QUEUED
    with pytest.raises(DashResponseError, match="neither"):
        QueryRun.from_json({"message": "x"})


def test_query_parameters_are_parsed_with_types_and_enum_options() -> None:
    query = Query.from_json(_recorded("get_query_by_id.json", "one query (parameterized) with visualizations"))
    assert [p.name for p in query.parameters] == ["min_qty", "since", "period", "cust", "region"]
    region = query.parameter("region")
    assert region is not None
    assert region.type is ParameterType.ENUM
    assert region.enum_options == ("north", "south", "east", "west")
    period = query.parameter("period")
    assert period is not None
    assert period.type.is_range
    assert not query.is_safe
    assert "REDACTED" not in repr(query)  # the query's own API key is not kept


def test_dashboard_widgets_flat_list_text_widgets_and_mappings() -> None:
    board = Dashboard.from_json(_recorded("get_dashboard_full_with_widgets.json", "GET by numeric id"))
    assert board.slug == "sales-overview"
    assert len(board.widgets) == 6
    text = [w for w in board.widgets if w.is_text]
    assert [w.id for w in text] == [4]
    mixed = next(w for w in board.widgets if w.id == 6)
    kinds = {m.name: m.type for m in mixed.parameter_mappings}
    assert kinds["min_qty"] is MappingType.STATIC_VALUE
    assert kinds["period"] is MappingType.DASHBOARD_LEVEL
    assert kinds["cust"] is MappingType.WIDGET_LEVEL


def test_dashboard_accepts_documented_array_of_arrays() -> None:
    board = Dashboard.from_json({"id": 1, "widgets": [[{"id": 1, "text": "a"}], [{"id": 2, "text": "b"}]]})
    assert [w.id for w in board.widgets] == [1, 2]
