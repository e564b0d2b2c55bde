"""The shared layer: connection config, route building, error mapping, retry policy, job texts."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_dash.exceptions import (
    DashApiError,
    DashAuthError,
    DashConfigError,
    DashJobCancelledError,
    DashJobFailedError,
    DashJobNotFoundError,
    DashNotFoundError,
)
from airflow_provider_dash.hooks import _api
from airflow_provider_dash.models import Job

BASE = "https://redash.example.com"


def conn(**fields: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "conn_id": "dash_test",
        "host": "redash.example.com",
        "password": "s3cr3t-key",
        "schema": None,
        "port": None,
        "extra": None,
    }
    values.update(fields)
    if isinstance(values["extra"], dict):
        values["extra"] = json.dumps(values["extra"])
    return SimpleNamespace(**values)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "redash.example.com"}, "https://redash.example.com"),
        ({"host": "https://redash.example.com/"}, "https://redash.example.com"),
        ({"host": "http://localhost:5000"}, "http://localhost:5000"),
        ({"host": "https://app.redash.io/acme/"}, "https://app.redash.io/acme"),
        ({"host": "localhost", "schema": "http", "port": 5000}, "http://localhost:5000"),
        ({"host": "app.redash.io", "schema": "acme", "port": 443}, "https://app.redash.io:443/acme"),
        ({"host": "https://h.example.com:8443/org", "port": 9999}, "https://h.example.com:8443/org"),
    ],
)
def test_base_url_is_normalised(fields: dict[str, Any], base_url: str) -> None:
    assert _api.config_from_connection(conn(**fields)).base_url == base_url


def test_defaults_and_extras_as_strings() -> None:
    config = _api.config_from_connection(conn())
    assert (config.verify, config.timeout, config.retries, config.query_id) == (True, 30.0, 5, None)
    config = _api.config_from_connection(
        conn(extra={"verify": "false", "timeout": "2.5", "retries": "0", "query_id": "7"})
    )
    assert (config.verify, config.timeout, config.retries, config.query_id) == (False, 2.5, 0, 7)


def test_verify_accepts_a_ca_bundle_path(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert _api.config_from_connection(conn(extra={"verify": str(bundle)})).verify == str(bundle)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": None}, "Connection 'dash_test' has no host"),
        ({"host": "  "}, "Connection 'dash_test' has no host"),
        ({"password": None}, "Connection 'dash_test' has no API key"),
        ({"extra": "{not json"}, "extra field is not valid JSON"),
        ({"extra": {"timeout": "soon"}}, "extra 'timeout' must be a number"),
        ({"extra": {"timeout": 0}}, "extra 'timeout' must be a number"),
        ({"extra": {"retries": -1}}, "extra 'retries' must be a whole number"),
        ({"extra": {"retries": 1.5}}, "extra 'retries' must be a whole number"),
        ({"extra": {"retries": "inf"}}, "extra 'retries' must be a whole number"),
        ({"extra": {"timeout": "inf"}}, "extra 'timeout' must be a number"),
        ({"extra": {"query_id": "abc"}}, "extra 'query_id' must be a whole number"),
        ({"extra": {"verify": "/no/such/bundle.pem"}}, "extra 'verify' must be true, false or the path"),
        ({"host": "ftp://x.example.com"}, "is not a base URL"),
        ({"host": "https://user:pw@x.example.com"}, "put no credentials in the base URL"),
    ],
)
def test_bad_connections_name_the_connection_and_the_problem(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DashConfigError, match=message) as caught:
        _api.config_from_connection(conn(**fields))
    assert "dash_test" in str(caught.value)


def test_api_key_is_not_in_repr_but_in_the_header_only() -> None:
    config = _api.config_from_connection(conn())
    assert "s3cr3t-key" not in repr(config)
    assert config.headers["Authorization"] == "Key s3cr3t-key"


# ---------------------------------------------------------------- routes


def test_routes() -> None:
    assert _api.get_job_request("abc").path == "api/jobs/abc"
    assert _api.get_job_request("abc", 3).path == "api/queries/3/jobs/abc"
    assert _api.cancel_job_request("abc").method == "DELETE"
    assert _api.cancel_job_request("abc").path == "api/jobs/abc"  # the only route that cancels
    assert _api.get_job_request("abc").job_route
    assert _api.get_dashboard_request(4).path == "api/dashboards/4"
    assert _api.get_dashboard_request("4").path == "api/dashboards/4"
    assert _api.get_dashboard_request("sales overview").path == "api/dashboards/sales%20overview?legacy"
    assert _api.download_request(6, "CSV").path == "api/query_results/6.csv"
    assert _api.download_request(6, "xlsx", 1).path == "api/queries/1/results/6.xlsx"
    assert _api.query_result_request(6).path == "api/query_results/6"
    assert _api.query_result_request(6, 1).path == "api/queries/1/results/6.json"
    assert _api.list_queries_request(2, 50, search="x").url(BASE) == f"{BASE}/api/queries?page=2&page_size=50&q=x"
    assert _api.list_queries_request(1, 25, archived=True).path == "api/queries/archive"
    assert _api.refresh_query_request(7, {"min_amount": 3}).url(BASE) == f"{BASE}/api/queries/7/refresh?p_min_amount=3"
    assert not _api.create_query_request({"name": "x"}).idempotent
    assert _api.execute_query_request(1, None, 0).json == {"max_age": 0}
    assert _api.execute_query_request(1, {"a": 1}, 5).json == {"max_age": 5, "parameters": {"a": 1}}


def test_unsupported_download_format_lists_the_allowed() -> None:
    with pytest.raises(DashConfigError, match="use one of csv, json, tsv, xlsx"):
        _api.download_request(6, "xml")


def test_retried_execution_reuses_what_the_lost_attempt_ran() -> None:
    request = _api.execute_query_request(1, None, 0)
    retried = _api.for_retry(request, first_attempt_at=100.0, now=102.3)
    assert retried.json == {"max_age": 4}
    assert request.json == {"max_age": 0}
    # A caller who accepts cached results keeps their max_age; other requests are unchanged.
    cached = _api.execute_query_request(1, None, 60)
    assert _api.for_retry(cached, 100.0, 200.0) is cached
    get = _api.get_query_request(1)
    assert _api.for_retry(get, 100.0, 200.0) is get


# ---------------------------------------------------------------- error mapping

AUTH_BODY = b'{"message": "Couldn\'t find resource. Please login and try again."}'
NOT_FOUND_BODY = (
    b'{"message": "The requested URL was not found on the server. If you entered the URL manually please check '
    b'your spelling and try again."}'
)


def test_auth_404_maps_to_auth_error_naming_what_and_base() -> None:
    error = _api.error_for_response(_api.get_query_request(7), 404, AUTH_BODY, BASE)
    assert isinstance(error, DashAuthError)
    assert "API key may be wrong, or lack access to query 7" in str(error)
    assert BASE in str(error)
    assert error.status == 404
    assert error.method == "GET"
    assert error.url == f"{BASE}/api/queries/7"


def test_other_404_maps_to_not_found_naming_the_object() -> None:
    error = _api.error_for_response(_api.get_query_request(99999), 404, NOT_FOUND_BODY, BASE)
    assert isinstance(error, DashNotFoundError)
    assert not isinstance(error, DashAuthError)
    assert str(error).startswith(f"query 99999 not found on {BASE}")


def test_500_on_a_job_route_is_job_not_found() -> None:
    error = _api.error_for_response(_api.get_job_request("abc"), 500, b'{"message": "Internal Server Error"}', BASE)
    assert isinstance(error, DashJobNotFoundError)
    assert "job abc not found or expired" in str(error)
    other = _api.error_for_response(_api.get_query_request(1), 500, b'{"message": "Internal Server Error"}', BASE)
    assert type(other) is DashApiError


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (400, b'{"job": {"status": 4, "error": "Missing parameter value for: period.end"}}', "Missing parameter"),
        (401, b'{"job": {"status": 4, "error": "Please select data source to run this query."}}', "select data"),
        (403, b'{"job": {"status": 4, "error": "This query contains potentially unsafe parameters"}}', "unsafe"),
        (409, b'{"message": "A conflict happened while processing the request."}', "A conflict happened"),
        (400, b'{"message": "The following parameter values are incompatible with their definitions: a"}', "a"),
        (500, b"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>", "Internal"),
    ],
)
def test_other_errors_carry_the_server_text_from_either_shape(status: int, body: bytes, text: str) -> None:
    request = _api.execute_query_request(2, None, 0)
    error = _api.error_for_response(request, status, body, BASE)
    assert type(error) is DashApiError
    assert error.status == status
    assert text in (error.server_message or "")
    assert f"POST {BASE}/api/queries/2/results failed for query 2: HTTP {status}" in str(error)
    assert "<" not in (error.server_message or "")


def test_success_maps_to_none() -> None:
    assert _api.error_for_response(_api.get_query_request(1), 200, b"{}", BASE) is None


# ---------------------------------------------------------------- retry policy


def failure(kind: Any) -> Any:
    return _api.TransportFailure(kind, "boom")


def status(code: int, retry_after: str | None = None) -> _api.RetryableStatus:
    return _api.RetryableStatus(code, b"", retry_after)


def test_retry_predicate() -> None:
    get = _api.get_query_request(1)
    create = _api.create_query_request({"name": "x"})
    for kind in ("connect", "timeout", "read"):
        assert _api.should_retry(get, failure(kind))
    assert not _api.should_retry(get, failure("tls"))
    assert _api.should_retry(get, status(500))
    assert _api.should_retry(get, status(429))
    assert not _api.should_retry(get, DashApiError("x", status=400))
    # Creating is retried only when it surely did not take effect.
    assert _api.should_retry(create, failure("connect"))
    assert not _api.should_retry(create, failure("read"))
    assert not _api.should_retry(create, status(500))
    assert _api.should_retry(create, status(503))
    assert [code for code in (400, 401, 403, 404, 409, 429, 500, 502) if _api.is_retryable_status(code)] == [
        429,
        500,
        502,
    ]


def test_retry_after_is_honoured_and_capped() -> None:
    assert _api.retry_delay(0, status(429, "3")) == 3.0
    assert _api.retry_delay(0, status(429, "100000")) == _api.RETRY_AFTER_CAP
    assert _api.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert _api.parse_retry_after("soon") is None


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    for retries_done in range(8):
        full = min(_api.BACKOFF_CAP, _api.BACKOFF_BASE * 2**retries_done)
        for _ in range(20):
            assert full / 2 <= _api.retry_delay(retries_done, status(503)) <= full
    assert math.isclose(min(_api.BACKOFF_CAP, _api.BACKOFF_BASE * 2**10), _api.BACKOFF_CAP)


# ---------------------------------------------------------------- jobs

PG_ERROR = (
    'column "no_such_column" does not exist\nLINE 1: ...e0fd10563eae789df9a8d, Scheduled: False */ '
    "select no_such_co...\n                                                             ^\n"
)


def test_job_failure_message_trims_redash_comment_noise() -> None:
    job = Job.from_json({"job": {"id": "j1", "status": 4, "error": PG_ERROR}})
    message = _api.job_failure_message(job, 4)
    assert message == 'Job j1 of query 4 failed: column "no_such_column" does not exist\nLINE 1: select no_such_co...'
    full = "/* Username: admin@example.com, query_id: 4, Queue: queries, Scheduled: False */ boom"
    assert _api.clean_job_error(full) == "boom"


def test_raise_for_job() -> None:
    _api.raise_for_job(Job.from_json({"job": {"id": "j", "status": 3, "query_result_id": 5}}), 1)
    _api.raise_for_job(Job.from_json({"job": {"id": "j", "status": 2}}), 1)
    with pytest.raises(DashJobCancelledError, match=r"Job j of query 1 was cancelled: Query cancelled by user\.") as c:
        _api.raise_for_job(Job.from_json({"job": {"id": "j", "status": 4, "error": "Query cancelled by user."}}), 1)
    assert (c.value.job_id, c.value.query_id) == ("j", 1)
    with pytest.raises(DashJobFailedError, match="Job j failed: boom") as f:
        _api.raise_for_job(Job.from_json({"job": {"id": "j", "status": 4, "error": "boom"}}), None)
    assert f.value.error == "boom"
