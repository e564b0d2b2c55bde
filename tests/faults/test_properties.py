"""Property-based: whatever status and JSON body a server sends, only the provider's own errors escape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hooks.stub_servers import CannedAnswer, canned_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dash.exceptions import DashError
from airflow_provider_dash.hooks import _api
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.hooks.dash_async import DashAsyncClient
from airflow_provider_dash.models import Dashboard, Job, Query, QueryResult, QueryRun

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
#: Bodies shaped like Redash's, with arbitrary values where the fields are.
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "job": st.dictionaries(st.sampled_from(["id", "status", "error", "query_result_id", "result"]), JSON),
        "query_result": st.dictionaries(st.sampled_from(["id", "data", "query", "retrieved_at", "runtime"]), JSON),
        "message": JSON,
        "id": JSON,
        "name": JSON,
        "options": JSON,
        "widgets": JSON,
        "status": JSON,
        # a list page: count, page and page_size of any value, a few results
        "count": JSON,
        "page": JSON,
        "page_size": JSON,
        "results": st.lists(JSON, max_size=3),
    },
)
REQUESTS = [
    _api.get_job_request("abc"),
    _api.execute_query_request(7, {"a": 1}, 0),
    _api.get_dashboard_request("sales"),
    _api.get_query_request(3),
]
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(status=st.integers(100, 599), body=JSON | SHAPED, request=st.sampled_from(REQUESTS))
def test_any_status_and_json_body_maps_to_a_dash_error_or_nothing(status: int, body: Any, request: Any) -> None:
    raw = json.dumps(body).encode()
    error = _api.error_for_response(request, status, raw, "https://dash.example.com")
    assert error is None or isinstance(error, DashError)
    if error is not None:
        assert "https://dash.example.com" in str(error)


@SETTINGS
@given(body=JSON | SHAPED, parse=st.sampled_from([Job, QueryRun, Query, QueryResult, Dashboard]))
def test_any_json_body_parses_or_raises_a_dash_error(body: Any, parse: Any) -> None:
    try:
        parse.from_json(body)
    except DashError:
        pass


@SETTINGS
@given(body=st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_give_a_server_message(body: Any) -> None:
    assert isinstance(_api.server_message(body), str)


#: Bodies a server (or a proxy in front of it) may send: JSON of any shape, cut JSON, any bytes, nothing.
BODIES = (
    (JSON | SHAPED).map(lambda body: json.dumps(body).encode())
    | SHAPED.map(lambda body: json.dumps(body).encode()[:-1])
    | st.binary(max_size=64)
    | st.just(b"")
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/html; charset=utf-8", "text/plain", "application/octet-stream"]
        ),
        "Retry-After": st.sampled_from(["0", "garbage", "", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    },
)
#: 1xx are interim answers, never final: a server cannot end an exchange with one.
ANSWERS = st.builds(CannedAnswer, status=st.integers(200, 599), headers=HEADERS, body=BODIES)


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    """One canned-answer server for the whole module (its answer is set per example)."""
    with canned_server() as server:
        yield server


@pytest.fixture
def stub_conn_id(stub: Any, dash_connection: Any) -> str:
    """A connection to the stub without retries (so 5xx answers do not back off)."""
    return str(dash_connection("dash_stub", host=stub.url, key="stub-key-123", retries=0, timeout=5))


def _call_all_sync(hook: DashHook) -> list[BaseException]:
    calls = [
        lambda: hook.get_job("some-job", 3),
        lambda: hook.execute_query(3, {"a": 1}, check_parameters=False),
        lambda: hook.execute_query(3),  # fetches the query's definition first
        lambda: hook.get_dashboard("sales"),
        lambda: hook.get_dashboard(4),
        lambda: hook.list_queries(),
    ]
    errors: list[BaseException] = []
    for call in calls:
        try:
            call()
        except DashError as error:
            errors.append(error)
    return errors


async def _call_all_async(client: DashAsyncClient) -> list[BaseException]:
    errors: list[BaseException] = []
    async with client:
        for call in (lambda: client.get_job("some-job", 3), lambda: client.cancel_job("some-job")):
            try:
                await call()
            except DashError as error:
                errors.append(error)
    return errors


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(answer=ANSWERS)
def test_any_answer_over_real_http_escapes_only_as_a_dash_error(stub: Any, stub_conn_id: str, answer: Any) -> None:
    stub.answer_with(answer)
    with DashHook(stub_conn_id) as hook:
        errors = _call_all_sync(hook)
        errors += asyncio.run(_call_all_async(DashAsyncClient(hook.config)))
    # A client looping on one answer (endless pagination...) would spend the stub's budget.
    assert stub.requests < stub.budget, f"{stub.requests} requests for one answer: a client loops"
    for error in errors:
        assert "stub-key-123" not in str(error)
    if answer.status >= 400:
        assert len(errors) == 8, "every call must fail on an error status"


@pytest.mark.parametrize("page_size", [0, -1])
def test_a_page_size_below_1_from_the_server_does_not_make_a_listing_endless(
    stub: Any, stub_conn_id: str, dash_emulator: Any, page_size: int
) -> None:
    query = requests.get(f"{dash_emulator.url}/api/queries/1", headers=dash_emulator.headers(), timeout=10).json()
    page = {"count": 1000, "page": 1, "page_size": page_size, "results": [query]}
    stub.answer_with(CannedAnswer(200, {"Content-Type": "application/json"}, json.dumps(page).encode()))
    with DashHook(stub_conn_id) as hook:
        assert [q.id for q in hook.list_queries()] == [1]
    assert stub.requests == 1
