"""DashHook against the emulator: queries, execution, parameters, jobs."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import (
    DashApiError,
    DashJobCancelledError,
    DashJobFailedError,
    DashJobNotFoundError,
    DashNotFoundError,
    DashParameterError,
    DashTimeoutError,
)
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.models import JobStatus

from .conftest import HookFactory, count, query_api_key

PLAIN, PARAMETERIZED, SLOW, FAILING, BY_REGION, ENUM_ONLY, NUMBER_ONLY, ARCHIVED = range(1, 9)


def test_list_queries_iterates_every_page(hook: DashHook, emulator: Any) -> None:
    queries = hook.list_queries(page_size=2)
    assert sorted(q.id for q in queries) == [1, 2, 3, 4, 5, 6, 7]
    assert count(emulator, route="/api/queries", method="GET", status=200) == 4
    assert count(emulator, route="/api/queries", method="GET", status=400) == 0


def test_list_queries_search_and_archived(hook: DashHook) -> None:
    assert {q.id for q in hook.list_queries(search="region")} >= {ENUM_ONLY, BY_REGION}
    assert [q.id for q in hook.list_queries(archived=True)] == [ARCHIVED]


def test_get_query_parses_parameters_and_is_cached_per_hook(hook: DashHook, emulator: Any) -> None:
    query = hook.get_query(PARAMETERIZED)
    assert [p.name for p in query.parameters] == ["min_qty", "since", "period", "cust", "region"]
    assert hook.get_query(PARAMETERIZED) is query
    assert count(emulator, route="/api/queries/{query_id}", method="GET") == 1


def test_get_unknown_query_raises_not_found_naming_query_and_base(hook: DashHook, emulator: Any) -> None:
    with pytest.raises(DashNotFoundError, match=f"query 99999 not found on {emulator.url}"):
        hook.get_query(99999)


def test_create_edit_archive_query(hook: DashHook) -> None:
    created = hook.create_query(name="CRUD", query="select 42 as answer", data_source_id=1, tags=["t"])
    assert created.is_draft
    edited = hook.edit_query(created.id, name="CRUD renamed")
    assert edited.name == "CRUD renamed"
    assert hook.get_query(created.id).name == "CRUD renamed"
    hook.archive_query(created.id)
    assert hook.get_query(created.id).is_archived
    assert created.id in [q.id for q in hook.list_queries(archived=True)]


def test_edit_with_stale_version_is_a_409_with_the_server_text_and_not_retried(hook: DashHook, emulator: Any) -> None:
    created = hook.create_query(name="versioned", query="select 1", data_source_id=1)
    with pytest.raises(DashApiError, match="HTTP 409") as caught:
        hook.edit_query(created.id, query="select 2", version=created.version + 5)
    assert caught.value.status == 409
    assert "conflict" in (caught.value.server_message or "").lower()
    assert count(emulator, route="/api/queries/{query_id}", method="POST", status=409) == 1


def test_latest_result_and_missing_latest_result(hook: DashHook) -> None:
    assert hook.get_latest_query_result(PLAIN).row_count == 50
    with pytest.raises(DashNotFoundError, match="No cached result found for this query"):
        hook.get_latest_query_result(BY_REGION)


def test_execute_fills_saved_defaults_and_waits_for_the_result(hook: DashHook) -> None:
    run = hook.execute_query(PARAMETERIZED, {"min_qty": 2})
    assert run.job is not None
    job = hook.wait_for_job(run.job.id, query_id=PARAMETERIZED, poll_interval=0.2)
    assert job.status is JobStatus.FINISHED
    result = hook.get_query_result(job.query_result_id)  # type: ignore[arg-type]
    assert all(row["quantity"] >= 2 and row["region"] == "north" for row in result.rows)


def test_execute_with_max_age_returns_the_cached_result(hook: DashHook) -> None:
    run = hook.execute_query(PLAIN, max_age=86400)
    assert run.is_cached
    assert run.query_result_id is not None


def test_bad_parameter_fails_before_anything_is_sent(hook: DashHook, emulator: Any) -> None:
    with pytest.raises(DashParameterError, match="allowed values: north, south, east, west"):
        hook.execute_query(ENUM_ONLY, {"region": "middle"})
    assert count(emulator, route="/api/queries/{query_id}/results", method="POST") == 0


def test_complete_parameters_without_check_skip_the_query_lookup(hook: DashHook, emulator: Any) -> None:
    run = hook.execute_query(NUMBER_ONLY, {"min_amount": 450}, check_parameters=False)
    assert run.job is not None
    assert count(emulator, route="/api/queries/{query_id}", method="GET") == 0


def test_server_side_parameter_errors_keep_the_server_text(hook: DashHook) -> None:
    with pytest.raises(DashApiError, match="Missing parameter value for") as missing:
        hook.execute_query(PARAMETERIZED, {"min_qty": 1}, check_parameters=False)
    assert missing.value.status == 400
    with pytest.raises(DashApiError, match="incompatible with their definitions: min_amount"):
        hook.execute_query(NUMBER_ONLY, {"min_amount": "abc"}, check_parameters=False)


def test_execute_sql_and_adhoc_without_data_source(hook: DashHook) -> None:
    run = hook.execute_sql("select 1 as one", 1)
    assert run.job is not None
    job = hook.wait_for_job(run.job.id, poll_interval=0.2)
    assert hook.get_query_result(job.query_result_id).rows[0]["one"] == 1  # type: ignore[arg-type]


def test_legacy_refresh_runs_with_checked_values(hook: DashHook) -> None:
    job = hook.refresh_query(NUMBER_ONLY, {"min_amount": 300})
    finished = hook.wait_for_job(job.id, poll_interval=0.2)
    assert finished.query_result_id is not None
    with pytest.raises(DashParameterError):
        hook.refresh_query(NUMBER_ONLY, {"min_amount": "abc"})


def test_run_query_returns_the_result_id(hook: DashHook) -> None:
    result_id = hook.run_query(BY_REGION, poll_interval=0.2)
    assert {row["region"] for row in hook.get_query_result(result_id).rows} == {"north", "south", "east", "west"}


def test_failed_job_raises_with_the_cleaned_database_error(hook: DashHook) -> None:
    run = hook.execute_query(FAILING)
    assert run.job is not None
    with pytest.raises(DashJobFailedError) as caught:
        hook.wait_for_job(run.job.id, query_id=FAILING, poll_interval=0.2)
    text = str(caught.value)
    assert f"Job {run.job.id} of query {FAILING} failed" in text
    assert "no_such_column" in text
    assert "Username:" not in text
    assert "Scheduled:" not in text


def test_cancel_job_then_wait_raises_cancelled(make_hook: HookFactory) -> None:
    hook = make_hook()
    slow = hook.create_query(name="slow", query="select pg_sleep(30) as slept", data_source_id=1)
    run = hook.execute_query(slow.id)
    assert run.job is not None
    hook.cancel_job(run.job.id)
    assert hook.get_job(run.job.id).is_cancelled
    with pytest.raises(DashJobCancelledError, match="Query cancelled by user"):
        hook.wait_for_job(run.job.id, poll_interval=0.2)


def test_wait_timeout_cancels_the_job_and_names_job_query_and_seconds(hook: DashHook) -> None:
    slow = hook.create_query(name="slower", query="select pg_sleep(30) as slept", data_source_id=1)
    run = hook.execute_query(slow.id)
    assert run.job is not None
    with pytest.raises(DashTimeoutError) as caught:
        hook.wait_for_job(run.job.id, query_id=slow.id, timeout=0.5, poll_interval=0.2)
    text = str(caught.value)
    assert run.job.id in text
    assert f"query {slow.id}" in text
    assert "within 0.5 s" in text
    assert "cancelled" in text
    assert hook.get_job(run.job.id).is_cancelled


def test_unknown_job_is_job_not_found_after_a_bounded_number_of_requests(make_hook: HookFactory, emulator: Any) -> None:
    hook = make_hook(retries=2)
    with pytest.raises(DashJobNotFoundError, match="job 00000000-0000-0000-0000-000000000000 not found or expired"):
        hook.get_job("00000000-0000-0000-0000-000000000000")
    assert count(emulator, route="/api/jobs/{job_id}", method="GET", status=500) == 3
    with pytest.raises(DashJobNotFoundError):
        hook.cancel_job("00000000-0000-0000-0000-000000000000")


def test_query_key_polls_through_the_query_scoped_route(make_hook: HookFactory, emulator: Any) -> None:
    hook = make_hook(key=query_api_key(emulator, NUMBER_ONLY), query_id=NUMBER_ONLY)
    run = hook.execute_query(NUMBER_ONLY, {"min_amount": 450})
    assert run.job is not None
    job = hook.wait_for_job(run.job.id, poll_interval=0.2)
    assert job.query_result_id is not None
    assert count(emulator, route="/api/queries/{query_id}/jobs/{job_id}", method="GET", status=200) >= 1
    assert count(emulator, route="/api/jobs/{job_id}") == 0
