"""Endpoint CRUD of the G3 emulator: create, retrieve, update, versions, delete, list, last_execution_times
(REFERENCE.md §2.1-2.5, §2.7, §2.9, §7 rules 4-8, 20)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

from .conftest import DAILY_SQL, Api, envelope

ENDPOINT_KEYS = {
    "id",
    "name",
    "description",
    "query",
    "is_active",
    "data_freshness_seconds",
    "endpoint_path",
    "url",
    "ui_url",
    "created_at",
    "updated_at",
    "created_by",
    "is_materialized",
    "current_version",
    "current_version_id",
    "versions_count",
    "derived_from_insight",
    "last_executed_at",
    "materialization",
    "bucket_overrides",
    "columns",
    "tags",
    "optional_breakdown_properties",
}
VERSION_KEYS = {
    "version",
    "version_id",
    "endpoint_is_active",
    "version_created_at",
    "version_updated_at",
    "version_created_by",
}


def hogql(sql: str, **variables: Any) -> dict[str, Any]:
    entries = {
        f"var-{name}": {"variableId": f"var-{name}", "code_name": name, "value": v} for name, v in variables.items()
    }
    return {"kind": "HogQLQuery", "query": sql, "variables": entries}


def create(api: Api, name: str = "by_country", **fields: Any) -> Any:
    body = {"name": name, "query": hogql("SELECT country, sum(n) AS n FROM signups GROUP BY country"), **fields}
    return api.post("endpoints/", json=body)


def test_create_returns_201_with_the_endpoint_response(api: Api, emu: PostHogEmulator) -> None:
    response = create(api, description="per country", tags=["a"])
    body = response.json()
    assert response.status_code == 201
    assert set(body) == ENDPOINT_KEYS
    assert body["name"] == "by_country"
    assert body["current_version"] == 1
    assert body["versions_count"] == 1
    assert body["data_freshness_seconds"] == 86400
    assert body["description"] == "per country"
    assert body["tags"] == ["a"]
    assert body["columns"] == [{"name": "country", "type": "string"}, {"name": "n", "type": "integer"}]
    assert body["endpoint_path"] == f"/api/environments/{emu.project_id}/endpoints/by_country/run"
    assert body["url"] == emu.url + body["endpoint_path"]
    assert body["created_by"]["email"] == "emulator@example.com"
    assert body["materialization"] == {"can_materialize": True, "reason": None}


@pytest.mark.parametrize("name", ["1abc", "has space", "a" * 129, "", "dot.name"])
def test_create_rejects_a_name_outside_the_pattern(api: Api, name: str) -> None:
    status, type_, _code, _detail, attr = envelope(create(api, name))
    assert (status, type_, attr) == (400, "validation_error", "name")


def test_create_rejects_unknown_keys_as_a_parse_error(api: Api) -> None:
    status, type_, code, detail, attr = envelope(create(api, cache_age_seconds=300))
    assert (status, type_, code, attr) == (400, "invalid_request", "parse_error", None)
    assert "cache_age_seconds" in detail
    assert "Extra inputs are not permitted" in detail


def test_create_requires_a_query(api: Api) -> None:
    status, _type, code, detail, _attr = envelope(api.post("endpoints/", json={"name": "x"}))
    assert (status, code) == (400, "parse_error")
    assert "query" in detail


def test_create_rejects_freshness_outside_the_buckets(api: Api) -> None:
    status, type_, _code, _detail, attr = envelope(create(api, data_freshness_seconds=300))
    assert (status, type_, attr) == (400, "validation_error", "data_freshness_seconds")


def test_create_accepts_a_freshness_bucket(api: Api) -> None:
    assert create(api, data_freshness_seconds=900).json()["data_freshness_seconds"] == 900


def test_create_rejects_a_duplicate_name(api: Api) -> None:
    response = create(api, "daily_signups")
    status, type_, _code, detail, attr = envelope(response)
    assert (status, type_, attr) == (400, "validation_error", "name")
    assert "already exists" in detail


def test_create_rejects_a_placeholder_without_variable_definition(api: Api) -> None:
    query = hogql("SELECT * FROM signups WHERE country = {variables.country}", other="x")
    response = api.post("endpoints/", json={"name": "x", "query": query})
    status, type_, _code, detail, attr = envelope(response)
    assert (status, type_, attr) == (400, "validation_error", "query")
    assert "country" in detail


def test_create_rejects_sql_on_an_unknown_table(api: Api) -> None:
    response = api.post("endpoints/", json={"name": "x", "query": hogql("SELECT * FROM nowhere")})
    assert envelope(response) == (400, "validation_error", "invalid_input", "Unknown table `nowhere`.", "query")


def test_create_rejects_sql_that_does_not_parse(api: Api) -> None:
    response = api.post("endpoints/", json={"name": "x", "query": hogql("SELEC nonsense")})
    assert envelope(response)[4] == "query"


def test_create_rejects_an_unknown_query_kind(api: Api) -> None:
    response = api.post("endpoints/", json={"name": "x", "query": {"kind": "EventsQuery"}})
    assert envelope(response)[4] == "query"


def test_retrieve_returns_the_endpoint(api: Api) -> None:
    response = api.get("endpoints/daily_signups/")
    assert response.status_code == 200
    assert set(response.json()) == ENDPOINT_KEYS


def test_retrieve_of_an_unknown_endpoint_is_404(api: Api) -> None:
    assert envelope(api.get("endpoints/nope/")) == (404, "invalid_request", "not_found", "Not found.", None)


def test_retrieve_with_version_returns_the_version_response(api: Api) -> None:
    api.patch("endpoints/daily_signups/", json={"query": hogql(DAILY_SQL + " LIMIT 1", country="US")})
    body = api.get("endpoints/daily_signups/", params={"version": 1}).json()
    assert set(body) == ENDPOINT_KEYS | VERSION_KEYS
    assert body["version"] == 1
    assert body["current_version"] == 2
    assert "LIMIT 1" not in body["query"]["query"]


def test_retrieve_of_an_unknown_version_is_a_bare_404(api: Api) -> None:
    response = api.get("endpoints/daily_signups/", params={"version": 7})
    assert (response.status_code, response.json()) == (404, {"error": "Version 7 not found"})


def test_inactive_endpoint_is_retrievable_but_not_runnable(api: Api) -> None:
    assert api.patch("endpoints/daily_signups/", json={"is_active": False}).json()["is_active"] is False
    assert api.get("endpoints/daily_signups/").status_code == 200
    assert envelope(api.run()) == (404, "invalid_request", "not_found", "Not found.", None)


def test_list_filters_on_is_active(api: Api) -> None:
    create(api)
    api.patch("endpoints/daily_signups/", json={"is_active": False})
    names = [e["name"] for e in api.get("endpoints/", params={"is_active": "true"}).json()["results"]]
    assert names == ["by_country"]


def test_update_with_the_same_query_keeps_the_version(api: Api) -> None:
    current = api.get("endpoints/daily_signups/").json()
    body = api.put("endpoints/daily_signups/", json={"query": current["query"], "description": "same"}).json()
    assert (body["current_version"], body["versions_count"], body["description"]) == (1, 1, "same")


def test_update_with_a_new_query_creates_a_version(api: Api) -> None:
    new_query = hogql("SELECT count() AS rows FROM signups")
    body = api.patch("endpoints/daily_signups/", json={"query": new_query}).json()
    assert (body["current_version"], body["versions_count"]) == (2, 2)
    assert body["columns"] == [{"name": "rows", "type": "integer"}]
    assert api.run().json()["results"] == [[6]]
    assert api.run(body={"version": 1}).json()["endpoint_version"] == 1


def test_update_targeting_a_version_forbids_the_query(api: Api) -> None:
    response = api.patch("endpoints/daily_signups/", json={"version": 1, "query": hogql("SELECT 1 AS one")})
    assert envelope(response)[:1] + envelope(response)[4:] == (400, "query")


def test_update_of_an_unknown_target_version_is_400_not_404(api: Api) -> None:
    response = api.patch("endpoints/daily_signups/", json={"version": 9, "description": "x"})
    status, type_, _code, _detail, attr = envelope(response)
    assert (status, type_, attr) == (400, "validation_error", "version")


def test_update_targeting_a_version_by_query_param_toggles_only_that_version(api: Api) -> None:
    api.patch("endpoints/daily_signups/", json={"query": hogql("SELECT 1 AS one")})
    body = api.patch("endpoints/daily_signups/", json={"is_active": False}, params={"version": 1}).json()
    assert (body["version"], body["is_active"], body["endpoint_is_active"]) == (1, False, True)
    response = api.run(body={"version": 1})
    assert envelope(response) == (
        400,
        "validation_error",
        "invalid_input",
        "Version 1 is inactive and cannot be executed.",
        "version",
    )
    assert api.run().status_code == 200


def test_update_refuses_unknown_keys(api: Api) -> None:
    response = api.patch("endpoints/daily_signups/", json={"sync_frequency": "1hour"})
    assert envelope(response)[2] == "parse_error"


def test_patch_deleted_true_soft_deletes(api: Api) -> None:
    response = api.patch("endpoints/daily_signups/", json={"deleted": True})
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert api.get("endpoints/daily_signups/").status_code == 404


def test_delete_is_a_soft_delete_that_frees_the_name(api: Api) -> None:
    response = api.delete("endpoints/daily_signups/")
    assert (response.status_code, response.content) == (204, b"")
    assert api.get("endpoints/daily_signups/").status_code == 404
    assert api.run().status_code == 404
    assert api.get("endpoints/daily_signups/versions/").status_code == 404
    assert api.get("endpoints/").json()["count"] == 0
    assert create(api, "daily_signups").status_code == 201


def test_delete_of_an_unknown_endpoint_is_404(api: Api) -> None:
    assert api.delete("endpoints/nope/").status_code == 404


def test_materializing_an_inactive_endpoint_is_400(api: Api) -> None:
    api.patch("endpoints/daily_signups/", json={"is_active": False})
    response = api.patch("endpoints/daily_signups/", json={"is_materialized": True})
    assert envelope(response)[::4] == (400, "is_materialized")


def test_materializing_a_query_with_a_variable_outside_where_is_400(api: Api) -> None:
    create(api, "odd", query=hogql("SELECT {variables.x} AS x FROM signups", x=1))
    response = api.patch("endpoints/odd/", json={"is_materialized": True})
    _status, _type, _code, detail, _attr = envelope(response)
    assert detail.startswith("Cannot materialize endpoint. Reason: ")
    assert api.get("endpoints/odd/").json()["materialization"]["can_materialize"] is False


def test_list_is_a_drf_page_with_absolute_links(api: Api, emu: PostHogEmulator) -> None:
    for i in range(4):
        create(api, f"e{i}")
    first = api.get("endpoints/", params={"limit": 2}).json()
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert first["next"] == emu.api_url("endpoints/") + "?limit=2&offset=2"
    last = api.get("endpoints/", params={"limit": 2, "offset": 4}).json()
    assert [len(last["results"]), last["next"]] == [1, None]
    assert last["previous"] == emu.api_url("endpoints/") + "?limit=2&offset=2"
    second = api.get("endpoints/", params={"limit": 2, "offset": 2}).json()
    assert second["previous"] == emu.api_url("endpoints/") + "?limit=2"
    seen = {e["name"] for page in (first, second, last) for e in page["results"]}
    assert seen == {"daily_signups", "e0", "e1", "e2", "e3"}


def test_list_pages_hold_100_by_default(api: Api) -> None:
    for i in range(100):
        create(api, f"e{i}")
    page = api.get("endpoints/").json()
    assert (page["count"], len(page["results"])) == (101, 100)
    assert page["next"].endswith("?limit=100&offset=100")


def test_versions_are_a_page_newest_first(api: Api) -> None:
    for n in range(2):
        api.patch("endpoints/daily_signups/", json={"query": hogql(f"SELECT {n} AS n")})
    page = api.get("endpoints/daily_signups/versions/").json()
    assert page["count"] == 3
    assert [v["version"] for v in page["results"]] == [3, 2, 1]
    assert set(page["results"][0]) == ENDPOINT_KEYS | VERSION_KEYS
    assert [
        v["version"] for v in api.get("endpoints/daily_signups/versions", params={"limit": 1}).json()["results"]
    ] == [3]


def test_last_execution_times_answers_the_query_status_wrapper(api: Api) -> None:
    create(api)
    api.run()
    body = api.post("endpoints/last_execution_times/", json={"names": ["daily_signups", "by_country"]}).json()
    status = body["query_status"]
    assert status["complete"] is True
    assert status["query_async"] is True
    assert [row[0] for row in status["results"]] == ["daily_signups"]
    assert status["results"][0][1].endswith("+00:00")


def test_last_execution_times_with_no_names_has_null_results(api: Api) -> None:
    body = api.post("endpoints/last_execution_times/", json={"names": []}).json()
    assert body["query_status"]["results"] is None


@pytest.mark.parametrize("body", [{}, {"names": "daily_signups"}, {"names": ["bad name"]}])
def test_last_execution_times_rejects_bad_names(api: Api, body: dict[str, Any]) -> None:
    status, type_, _code, _detail, attr = envelope(api.post("endpoints/last_execution_times/", json=body))
    assert (status, type_, attr) == (400, "validation_error", "names")


def test_last_executed_at_moves_at_most_every_30_minutes(api: Api, emu: PostHogEmulator) -> None:
    api.run()
    first = api.get("endpoints/daily_signups/").json()["last_executed_at"]
    emu.advance(600)
    api.run(body={"refresh": "force"})
    assert api.get("endpoints/daily_signups/").json()["last_executed_at"] == first
    emu.advance(1200)
    api.run(body={"refresh": "force"})
    assert api.get("endpoints/daily_signups/").json()["last_executed_at"] > first


def test_bulk_update_tags_is_always_405(api: Api) -> None:
    assert envelope(api.post("endpoints/bulk_update_tags/", json={}))[:3] == (
        405,
        "invalid_request",
        "method_not_allowed",
    )
