"""Every error shape of REFERENCE.md §1, read into the provider's exceptions: endpoint, field and expectation named."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashApiError, DashAuthError, DashNotFoundError
from airflow_provider_dash.hooks import _posthog_routes as routes

from .helpers import RUN, requests


def test_validation_error_envelope_names_the_field_and_what_is_expected(ph: Any, hook: Any) -> None:
    request = routes.RUN_ENDPOINT.request(
        "endpoint 'daily_signups'", ph.project_id, json={"refresh": "sometimes"}, name="daily_signups"
    )
    with pytest.raises(DashApiError) as caught:
        hook._exchange(request)

    error = caught.value
    assert (error.status, error.code, error.field) == (400, "invalid_input", "refresh")
    assert "endpoint 'daily_signups'" in str(error)
    assert "validation_error/invalid_input on field 'refresh'" in str(error)
    assert "expected 'cache', 'force' or 'direct'" in str(error)


def test_unknown_variable_from_the_server_names_the_field(ph: Any, hook: Any) -> None:
    with pytest.raises(DashApiError, match=r"field 'variables': Unknown variable\(s\): nope"):
        hook.run_endpoint("daily_signups", {"nope": 1})


def test_parse_error_envelope(ph: Any, hook: Any) -> None:
    with pytest.raises(DashApiError) as caught:
        hook.create_endpoint("x1", "SELECT 1", not_a_field=True)

    assert (caught.value.status, caught.value.code) == (400, "parse_error")


def test_duplicate_name_on_create_names_the_field(hook: Any) -> None:
    with pytest.raises(DashApiError) as caught:
        hook.create_endpoint("daily_signups", "SELECT 1 AS one")

    assert caught.value.field == "name"
    assert "no live endpoint uses" in str(caught.value)


def test_not_found_envelope(hook: Any) -> None:
    with pytest.raises(DashNotFoundError, match="endpoint 'nope' not found") as caught:
        hook.run_endpoint("nope")

    assert caught.value.code == "not_found"


def test_bare_error_body_of_an_unknown_version_names_the_current_version(ph: Any, hook: Any) -> None:
    with pytest.raises(DashNotFoundError) as caught:
        hook.run_endpoint("daily_signups", version=7)

    assert "Version 7 not found for endpoint 'daily_signups'" in str(caught.value)
    assert "the current version is 1" in str(caught.value)
    assert caught.value.server_message == "Version 7 not found for endpoint 'daily_signups'"


def test_bare_error_body_of_retrieve_with_an_unknown_version(hook: Any) -> None:
    with pytest.raises(DashNotFoundError, match="Version 9 not found"):
        hook.get_endpoint("daily_signups", version=9)


def test_bare_400_of_a_bad_query_string_parameter(ph: Any, hook: Any) -> None:
    request = routes.RUN_ENDPOINT.request(
        "endpoint 'daily_signups'", ph.project_id, params={"limit": 0}, name="daily_signups"
    )

    with pytest.raises(DashApiError, match="Invalid limit parameter: 0") as caught:
        hook._exchange(request)
    assert caught.value.status == 400
    assert caught.value.code is None


def test_offset_without_limit_is_a_bare_400(ph: Any, hook: Any) -> None:
    request = routes.RUN_ENDPOINT.request("endpoint 'x'", ph.project_id, params={"offset": 5}, name="daily_signups")

    with pytest.raises(DashApiError, match="offset requires limit to be set"):
        hook._exchange(request)


def test_unknown_key_is_an_authentication_error_without_the_key(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection("posthog_bad", key="phx_not_a_real_key_123"))

    with pytest.raises(DashAuthError) as caught:
        hook.get_endpoint("daily_signups")

    assert caught.value.status == 401
    assert caught.value.code == "authentication_failed"
    assert "phx_not_a_real_key_123" not in str(caught.value)


def test_missing_scope_is_named(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    key = ph.add_personal_key(scopes=["endpoint:read"])
    hook = make_hook(ph_connection("posthog_ro", key=key))

    with pytest.raises(DashAuthError, match="missing required scope 'endpoint:write'") as caught:
        hook.delete_endpoint("daily_signups")
    assert caught.value.status == 403
    assert caught.value.code == "permission_denied"
    assert "Give the personal API key that scope" in str(caught.value)


def test_a_project_secret_key_runs_but_is_told_it_cannot_read(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection("posthog_psak", key=ph.secret_key, generation="g3"))

    assert hook.run_endpoint("daily_signups").row_count == 90
    with pytest.raises(DashAuthError, match="may only run endpoints"):
        hook.get_endpoint("daily_signups")


def test_another_project_is_refused(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    other = ph.add_project("other")
    key = ph.add_personal_key(project_ids=[ph.project_id])
    hook = make_hook(ph_connection("posthog_other", key=key, project_id=other))

    with pytest.raises(DashAuthError, match="You don't have access to the project"):
        hook.get_endpoint("daily_signups")


@pytest.mark.parametrize("code", ["query_timeout", "query_memory_limit", "query_too_large", "query_estimated_too_slow"])
def test_cost_guardrail_is_named_and_not_retried(ph: Any, ph_connection: Any, make_hook: Any, code: str) -> None:
    hook = make_hook(ph_connection(retries=3))
    ph.fail_next_runs(code)

    with pytest.raises(DashApiError, match="cost guardrail") as caught:
        hook.run_endpoint("daily_signups")

    assert (caught.value.status, caught.value.code) == (400, code)
    assert requests(ph, RUN, "POST") == 1


def test_server_error_is_read_and_not_retried(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection(retries=3))
    ph.fail_next_runs("server_error")

    with pytest.raises(DashApiError, match="HTTP 500 server_error/error: A server error occurred") as caught:
        hook.run_endpoint("daily_signups")

    assert caught.value.status == 500
    assert requests(ph, RUN, "POST") == 1


def test_html_gateway_page_is_read_as_text(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection(retries=0))
    ph.set_faults(error_rate=1.0, error_statuses=(502,), routes=["/api/projects/{project_id}/endpoints/{name}"])

    with pytest.raises(DashApiError, match="HTTP 502 502 Bad Gateway Bad Gateway"):
        hook.get_endpoint("daily_signups")


def test_a_body_that_is_not_json_is_retried_then_named(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection(retries=1))
    ph.set_faults(malformed_next=1)

    assert hook.get_endpoint("daily_signups").name == "daily_signups"
    assert requests(ph, "endpoints/{name}", "GET", 200) == 2


def test_an_endpoint_without_any_version_is_a_bare_404(ph: Any, hook: Any) -> None:
    ph.remove_versions("daily_signups")

    with pytest.raises(DashNotFoundError, match="No version found for this endpoint"):
        hook.run_endpoint("daily_signups")


def test_method_not_allowed_envelope(ph: Any, hook: Any) -> None:
    bulk = routes.Route("POST", "endpoints/bulk_update_tags/")  # a route the client never sends (always 405)

    with pytest.raises(DashApiError, match=r"HTTP 405 invalid_request/method_not_allowed") as caught:
        hook._exchange(bulk.request("tags", ph.project_id, json={}))
    assert caught.value.code == "method_not_allowed"
