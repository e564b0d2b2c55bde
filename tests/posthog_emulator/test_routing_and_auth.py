"""Routing and authentication of the PostHog emulator (REFERENCE.md §1, §7 rules 1-3)."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

from .conftest import Api, envelope


@pytest.mark.parametrize("prefix", ["projects", "environments"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_routes_answer_under_both_prefixes_with_or_without_trailing_slash(api: Api, prefix: str, slash: str) -> None:
    listed = api.get("endpoints" + slash, prefix=prefix)
    ran = api.post("endpoints/daily_signups/run" + slash, json={}, prefix=prefix)
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert ran.status_code == 200
    assert ran.json()["results"] == [["2026-04-29", 11], ["2026-04-30", 118], ["2026-05-01", 131]]


@pytest.mark.parametrize(
    "path", ["/api/projects/{pid}/nothing/", "/api/projects/not-a-number/endpoints/", "/api/unknown", "/api/"]
)
def test_unknown_route_answers_like_posthogs_api_not_found_without_auth(
    http: httpx.Client, emu: PostHogEmulator, path: str
) -> None:
    response = http.get(emu.url + path.format(pid=emu.project_id))
    assert envelope(response) == (404, "invalid_request", "not_found", "Endpoint not found.", None)


def test_g3_has_no_single_version_route(api: Api) -> None:
    response = api.get("endpoints/daily_signups/versions/1/")
    assert envelope(response) == (404, "invalid_request", "not_found", "Endpoint not found.", None)


def test_known_path_with_another_method_is_405(api: Api) -> None:
    response = api.delete("endpoints/")
    assert envelope(response) == (405, "invalid_request", "method_not_allowed", 'Method "DELETE" not allowed.', None)


def test_405_comes_after_authentication(api: Api) -> None:
    response = api.delete("endpoints/", headers={})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "endpoints/"), ("POST", "endpoints/daily_signups/run/"), ("DELETE", "query/abc/")],
)
def test_missing_credentials_is_401_not_authenticated(api: Api, method: str, path: str) -> None:
    response = api.call(method, path, headers={})
    assert envelope(response) == (
        401,
        "authentication_error",
        "not_authenticated",
        "Authentication credentials were not provided.",
        None,
    )


def test_unknown_personal_key_is_401_authentication_failed(api: Api) -> None:
    response = api.get("endpoints/", key="phx_not_a_real_key")
    assert envelope(response) == (
        401,
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
        None,
    )


def test_authorization_without_bearer_counts_as_no_credentials(api: Api, emu: PostHogEmulator) -> None:
    response = api.get("endpoints/", headers={"Authorization": f"Key {emu.personal_key}"})
    assert envelope(response)[2] == "not_authenticated"


def test_personal_api_key_in_query_string_authenticates(api: Api, emu: PostHogEmulator) -> None:
    response = api.get("endpoints/", headers={}, params={"personal_api_key": emu.personal_key})
    assert response.status_code == 200


def test_personal_api_key_in_run_body_breaks_the_strict_model(api: Api, emu: PostHogEmulator) -> None:
    response = api.run(body={"personal_api_key": emu.personal_key}, headers={})
    assert envelope(response) == (
        400,
        "validation_error",
        "invalid_input",
        "Extra inputs are not permitted",
        "personal_api_key",
    )


@pytest.mark.parametrize(
    ("scopes", "method", "path", "missing"),
    [
        (["endpoint:read"], "POST", "endpoints/", "endpoint:write"),
        (["endpoint:read"], "DELETE", "endpoints/daily_signups/", "endpoint:write"),
        (["endpoint:read"], "PATCH", "endpoints/daily_signups/", "endpoint:write"),
        (["query:read"], "GET", "endpoints/", "endpoint:read"),
        (["query:read"], "POST", "endpoints/daily_signups/run/", "endpoint:read"),
        (["endpoint:write"], "DELETE", "query/abc/", "query:read"),
        (["endpoint:write"], "GET", "query/abc/", "query:read"),
    ],
)
def test_missing_scope_is_403_naming_the_scope(
    api: Api, emu: PostHogEmulator, scopes: list[str], method: str, path: str, missing: str
) -> None:
    key = emu.add_personal_key(scopes)
    response = api.call(method, path, key=key, json={} if method in ("POST", "PATCH") else None)
    assert envelope(response) == (
        403,
        "authentication_error",
        "permission_denied",
        f"API key missing required scope '{missing}'",
        None,
    )


def test_write_scope_implies_read(api: Api, emu: PostHogEmulator) -> None:
    key = emu.add_personal_key(["endpoint:write"])
    assert api.get("endpoints/", key=key).status_code == 200
    assert api.run(key=key).status_code == 200


def test_star_scope_allows_everything(api: Api, emu: PostHogEmulator) -> None:
    key = emu.add_personal_key(["*"])
    assert api.delete("query/abc/", key=key).status_code == 200


def test_key_limited_to_one_project_gets_403_on_another(api: Api, emu: PostHogEmulator) -> None:
    other = emu.add_project()
    key = emu.add_personal_key(project_ids=[emu.project_id])
    response = api.get("endpoints/", key=key, project_id=other)
    assert envelope(response) == (
        403,
        "authentication_error",
        "permission_denied",
        "You don't have access to the project.",
        None,
    )


def test_unknown_project_is_403(api: Api) -> None:
    response = api.get("endpoints/", project_id=999_999)
    assert envelope(response)[:3] == (403, "authentication_error", "permission_denied")


def test_endpoints_belong_to_their_project(api: Api, emu: PostHogEmulator) -> None:
    other = emu.add_project()
    assert api.get("endpoints/daily_signups/", project_id=other).status_code == 404
    assert api.get("endpoints/", project_id=other).json()["count"] == 0


def test_secret_key_runs_an_endpoint(api: Api, emu: PostHogEmulator) -> None:
    assert api.run(key=emu.secret_key).status_code == 200
    assert api.get("endpoints/daily_signups/run", key=emu.secret_key).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("GET", "endpoints/"), ("GET", "endpoints/daily_signups/")])
def test_secret_key_is_refused_outside_run(api: Api, emu: PostHogEmulator, method: str, path: str) -> None:
    response = api.call(method, path, key=emu.secret_key)
    assert envelope(response)[:3] == (401, "authentication_error", "authentication_failed")


def test_secret_key_of_another_project_gets_403(api: Api, emu: PostHogEmulator) -> None:
    other = emu.add_project()
    response = api.run(key=emu.add_secret_key(other))
    assert envelope(response)[2] == "permission_denied"


def test_secret_key_sees_inactive_endpoint_as_not_found(api: Api, emu: PostHogEmulator) -> None:
    api.patch("endpoints/daily_signups/", json={"is_active": False})
    response = api.run(key=emu.secret_key)
    assert envelope(response) == (404, "invalid_request", "not_found", "Not found.", None)


def test_bad_json_body_is_400_parse_error(api: Api, emu: PostHogEmulator) -> None:
    response = api.post(
        "endpoints/daily_signups/run/",
        content=b"{not json",
        headers={**emu.headers(), "Content-Type": "application/json"},
    )
    status, type_, code, detail, attr = envelope(response)
    assert (status, type_, code, attr) == (400, "invalid_request", "parse_error", None)
    assert detail.startswith("JSON parse error")


def test_requests_are_counted_per_route_template_and_prefix(api: Api, emu: PostHogEmulator) -> None:
    api.run()
    api.run(prefix="environments")
    api.get("nothing/")
    assert emu.counters.requests(route="/api/projects/{project_id}/endpoints/{name}/run", status=200) == 1
    assert emu.counters.requests(route="/api/environments/{project_id}/endpoints/{name}/run", status=200) == 1
    assert emu.counters.requests(route="<unmatched>", status=404) == 1
    assert emu.counters.executions("daily_signups", {"country": "US"}) == 1  # the second run was a cache hit
