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
    Page,
    ParameterType,
    Query,
    QueryResult,
    QueryRun,
    Widget,
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


MALFORMED = [
    (Job, {"job": {"id": "j", "status": "1"}}, "The server's job field 'status' is str, not int"),
    (Job, {"job": {"id": "j", "status": True}}, "The server's job field 'status' is bool, not int"),
    (Job, {"job": {"id": 7, "status": 1}}, "The server's job field 'id' is int, not str"),
    (Job, {"job": {"status": 1}}, "The server's job has no 'id' field"),
    (Job, {"job": None}, "Expected a JSON object for job, got NoneType"),
    (Job, [], "Expected a JSON object for job answer, got list"),
    (Job, {"job": {"id": "j", "status": 9}}, "Job j has unknown status 9"),
    (
        Job,
        {"job": {"id": "j", "status": 3, "query_result_id": "5"}},
        "The server's job field 'query_result_id' is str, not int",
    ),
    (Job, {"job": {"id": "j", "status": 3, "result": "5"}}, "The server's job field 'result' is str, not int"),
    (QueryResult, {"query_result": {"id": "1"}}, "The server's query_result field 'id' is str, not int"),
    (QueryResult, {"query_result": {"id": 1, "data": [1]}}, "Expected a JSON object for query_result data, got list"),
    (
        QueryResult,
        {"query_result": {"id": 1, "data": {"rows": {}}}},
        "The server's query_result data field 'rows' is dict, not list",
    ),
    (QueryResult, {"query_result": {"id": 1, "data": {"rows": [{}, 1]}}}, "Expected a JSON object for row, got int"),
    (QueryResult, {"query_result": {"id": 1, "data": {"columns": [3]}}}, "Expected a JSON object for column, got int"),
    (QueryResult, {"query_result": {"id": 1, "data": {"columns": [{}]}}}, "The server's column has no 'name' field"),
    (
        QueryResult,
        {"query_result": {"id": 1, "data": {"columns": [{"name": True}]}}},
        "The server's column field 'name' is bool, not str or int",
    ),
    (QueryRun, {"message": "x"}, "The execution answer holds neither 'query_result' nor 'job'"),
    (Query, {"id": 1, "name": 5}, "The server's query field 'name' is int, not str"),
    (Query, {"id": 1, "version": "2"}, "The server's query field 'version' is str, not int"),
    (
        Query,
        {"id": 1, "options": {"parameters": {"p": {}}}},
        "The server's query options field 'parameters' is dict, not list",
    ),
    (
        Query,
        {"id": 1, "options": {"parameters": [{"title": "p"}]}},
        "The server's parameter definition has no 'name' field",
    ),
    (
        Query,
        {"id": 1, "options": {"parameters": [{"name": "p", "type": "colour"}]}},
        "Parameter 'p' has unknown type 'colour'",
    ),
    (Dashboard, {"id": 1, "widgets": {"a": 1}}, "The server's dashboard field 'widgets' is dict, not list"),
    (Dashboard, {"id": 1, "widgets": [5]}, "Expected a JSON object for widget, got int"),
    (
        Dashboard,
        {"id": 1, "widgets": [{"id": 2, "visualization": {"id": "v"}}]},
        "The server's widget visualization field 'id' is str, not int",
    ),
    (Widget, {"id": 2, "visualization": [1]}, "Expected a JSON object for widget 2 visualization, got list"),
    (
        Widget,
        {"id": 2, "visualization": {"id": 3, "query": {"id": "q"}}},
        "The server's query field 'id' is str, not int",
    ),
    (
        Widget,
        {"id": 2, "options": {"parameterMappings": {"p": {"type": "x"}}}},
        "Widget 2 parameter 'p' has unknown mapping type 'x'",
    ),
    (Page, {"count": 1}, "The server's list answer has no 'results' field"),
    (Page, {"results": [], "page": "2"}, "The server's list answer field 'page' is str, not int"),
]


@pytest.mark.parametrize(("model", "body", "text"), MALFORMED)
def test_malformed_answer_error_names_the_object_and_the_field(model: Any, body: Any, text: str) -> None:
    with pytest.raises(DashResponseError) as caught:
        model.from_json(body)
    assert str(caught.value) == text


def test_malformed_answer_error_does_not_chain_pydantic_error() -> None:
    with pytest.raises(DashResponseError) as caught:
        Job.from_json({"job": {"id": "j", "status": "1"}})
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_null_for_a_strict_optional_field_means_not_sent() -> None:
    query = Query.from_json({"id": 1, "name": None, "query": None, "version": None, "data_source_id": None})
    assert (query.name, query.query_text, query.version, query.data_source_id) == ("", "", 1, None)


def test_loose_job_fields_are_read_leniently_and_unknown_keys_ignored() -> None:
    job = Job.from_json({"job": {"id": "j", "status": 4, "error": {"code": 1}, "updated_at": 0, "extra": [1]}})
    assert job.error == "{'code': 1}"
    assert job.updated_at == 0
    assert not hasattr(job, "extra")


def test_rows_are_kept_as_sent_not_copied() -> None:
    rows = [{"a": 1}, {"a": 2}]
    result = QueryResult.from_json({"query_result": {"id": 1, "data": {"columns": [{"name": "a"}], "rows": rows}}})
    assert result.rows[0] is rows[0]
    assert result.row_count == 2


def test_models_are_frozen_and_hashable() -> None:
    job = Job.from_json({"job": {"id": "j", "status": 2, "updated_at": "2024-01-01T00:00:00"}})
    with pytest.raises(ValueError, match="frozen"):
        job.status = JobStatus.FAILED  # type: ignore[misc]
    assert job == Job(id="j", status=JobStatus.STARTED, updated_at="2024-01-01T00:00:00")
    assert len({job, Job.from_json({"job": {"id": "j", "status": 2, "updated_at": "2024-01-01T00:00:00"}})}) == 1


def test_query_run_copy_marks_the_job_shared() -> None:
    run = QueryRun.from_json({"job": {"id": "j", "status": 1}})
    shared = run.model_copy(update={"shared": True})
    assert (run.shared, shared.shared) == (False, True)
    assert shared.job is run.job


def test_split_modules_keep_the_old_import_paths() -> None:
    import airflow_provider_dash.models as package
    from airflow_provider_dash.models import redash

    for name in package.__all__:
        assert getattr(redash, name) is getattr(package, name)
