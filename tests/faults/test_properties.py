"""Property-based: whatever status and JSON body a server sends, only the provider's own errors escape."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dash.exceptions import DashError
from airflow_provider_dash.hooks import _api
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
