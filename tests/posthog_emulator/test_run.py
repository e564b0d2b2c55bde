"""Runs on the G3 emulator: body model, validation order and messages, variables, response shape
(REFERENCE.md §2.6, §5, §7 rules 9-10, 13)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

from .conftest import Api, envelope

RUN_KEYS = [
    "results",
    "columns",
    "types",
    "hasMore",
    "is_cached",
    "last_refresh",
    "next_allowed_client_refresh",
    "cache_target_age",
    "timezone",
    "query_status",
    "error",
    "name",
    "execution_id",
    "endpoint_version",
    "endpoint_version_created_at",
]
DEBUG_KEYS = {"hogql", "timings", "modifiers", "explain", "cache_key", "calculation_trigger", "resolved_date_range"}
TRENDS = {
    "kind": "TrendsQuery",
    "series": [{"kind": "EventsNode", "event": "$pageview"}],
    "breakdownFilter": {"breakdown": "$browser"},
}


def test_run_answers_rows_with_g3_keys_in_order(api: Api) -> None:
    response = api.run(body={"variables": {"country": "DE"}})
    body = response.json()
    assert response.status_code == 200
    assert list(body) == RUN_KEYS
    assert body["results"] == [["2026-04-29", 4], ["2026-04-30", 20]]
    assert body["columns"] == ["day", "n"]
    assert body["types"] == [["day", "Date"], ["n", "Int64"]]
    assert (body["hasMore"], body["is_cached"], body["timezone"]) == (False, False, "UTC")
    assert (body["name"], body["endpoint_version"]) == ("daily_signups", 1)
    assert body["last_refresh"].endswith("Z")
    assert body["endpoint_version_created_at"].endswith("+00:00")


def test_get_run_uses_stored_defaults(api: Api) -> None:
    body = api.get("endpoints/daily_signups/run/").json()
    assert body["results"] == [["2026-04-29", 11], ["2026-04-30", 118], ["2026-05-01", 131]]


def test_get_run_takes_version_limit_and_offset_from_the_query_string(api: Api) -> None:
    body = api.get("endpoints/daily_signups/run/", params={"version": 1, "limit": 1, "offset": 1}).json()
    assert (body["results"], body["hasMore"]) == ([["2026-04-30", 118]], True)


def test_body_version_wins_over_the_query_string(api: Api) -> None:
    response = api.run(body={"version": 1}, params={"version": 5})
    assert response.status_code == 200


def test_variable_values_are_bound_not_pasted_into_the_sql(api: Api) -> None:
    body = api.run(body={"variables": {"country": "US' OR 1=1 --"}}).json()
    assert body["results"] == [["2026-05-01", 999]]


def test_null_variable_is_sql_null(api: Api) -> None:
    assert api.run(body={"variables": {"country": None}}).json()["results"] == []


def test_unknown_variables_are_400_naming_them(api: Api) -> None:
    response = api.run(body={"variables": {"country": "US", "a": 1, "b": 2}})
    assert envelope(response) == (400, "validation_error", "invalid_input", "Unknown variable(s): a, b", "variables")


@pytest.mark.parametrize("key", ["variables_values", "query_override", "variables_override", "cache_age_seconds"])
def test_legacy_keys_are_rejected_by_the_strict_model(api: Api, key: str) -> None:
    response = api.run(body={key: {}})
    assert envelope(response) == (400, "validation_error", "invalid_input", "Extra inputs are not permitted", key)


@pytest.mark.parametrize(
    ("body", "attr", "detail"),
    [
        ({"refresh": "blocking"}, "refresh", "Input should be 'cache', 'force' or 'direct'"),
        ({"limit": 0}, "limit", "Input should be greater than or equal to 1"),
        ({"offset": -1, "limit": 1}, "offset", "Input should be greater than or equal to 0"),
        ({"variables": ["US"]}, "variables", "Input should be a valid dictionary"),
        ({"version": "two"}, "version", "Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_body_model_errors_name_the_field(api: Api, body: dict[str, Any], attr: str, detail: str) -> None:
    assert envelope(api.run(body=body)) == (400, "validation_error", "invalid_input", detail, attr)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"limit": "0"}, "Invalid limit parameter: 0"),
        ({"limit": "ten"}, "Invalid limit parameter: ten"),
        ({"limit": "5", "offset": "-1"}, "Invalid offset parameter: -1"),
        ({"version": "x"}, "Invalid version parameter: x"),
        ({"offset": "5"}, "offset requires limit to be set"),
    ],
)
def test_bad_query_string_values_get_a_bare_error_body(api: Api, params: dict[str, str], error: str) -> None:
    response = api.get("endpoints/daily_signups/run/", params=params)
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_offset_in_the_body_without_limit_gets_the_bare_error(api: Api) -> None:
    response = api.run(body={"offset": 2})
    assert (response.status_code, response.json()) == (400, {"error": "offset requires limit to be set"})


def test_unknown_version_is_a_bare_404_with_the_current_version(api: Api) -> None:
    response = api.run(body={"version": 7})
    assert response.status_code == 404
    assert response.json() == {"error": "Version 7 not found for endpoint 'daily_signups'", "current_version": 1}


def test_endpoint_without_any_version_row_is_404(api: Api, emu: PostHogEmulator) -> None:
    emu.remove_versions("daily_signups")
    response = api.run()
    assert (response.status_code, response.json()) == (404, {"error": "No version found for this endpoint"})


def test_unknown_endpoint_is_404_before_the_body_is_judged(api: Api) -> None:
    assert envelope(api.run("nope", body={"variables_values": {}}))[:3] == (404, "invalid_request", "not_found")


def test_body_is_judged_before_the_query_string(api: Api) -> None:
    response = api.run(body={"refresh": "never"}, params={"limit": "0"})
    assert envelope(response)[4] == "refresh"


def test_query_string_is_judged_before_the_version_lookup(api: Api) -> None:
    response = api.run(body={"version": 9}, params={"limit": "0"})
    assert response.json() == {"error": "Invalid limit parameter: 0"}


def test_version_lookup_comes_before_variable_checks(api: Api) -> None:
    response = api.run(body={"version": 9, "variables": {"zzz": 1}})
    assert response.status_code == 404


def test_filters_override_on_a_hogql_endpoint_is_400(api: Api) -> None:
    response = api.run(body={"filters_override": {"date_from": "-7d"}})
    assert envelope(response)[::4] == (400, "filters_override")


def test_refresh_direct_on_a_non_materialized_version_is_400(api: Api) -> None:
    assert envelope(api.run(body={"refresh": "direct"}))[::4] == (400, "refresh")


def test_debug_keeps_the_debug_fields(api: Api) -> None:
    plain = api.run().json()
    debug = api.run(body={"debug": True}).json()
    assert not DEBUG_KEYS & set(plain)
    assert set(debug) >= DEBUG_KEYS
    assert "{variables.country}" in debug["hogql"]


def test_every_call_gets_a_fresh_execution_id(api: Api) -> None:
    first, second = api.run().json(), api.run().json()
    assert second["is_cached"] is True
    assert first["execution_id"] != second["execution_id"]


def test_a_failing_query_at_run_time_is_a_400_validation_error(api: Api, emu: PostHogEmulator) -> None:
    emu.execute_sql("DROP TABLE signups")
    assert envelope(api.run()) == (400, "validation_error", "invalid_input", "Unknown table `signups`.", None)


def test_hogql_functions_and_backticks_translate(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint(
        "functions",
        "SELECT toDate(`day`) AS d, toString(max(n)) AS s, countIf(n > 100) AS big FROM signups "
        "WHERE toInt(n) >= {variables.min} GROUP BY d ORDER BY d",
        variables={"min": 100},
    )
    body = api.run("functions").json()
    assert body["results"] == [["2026-04-30", "118", 1], ["2026-05-01", "999", 2]]


def test_insight_endpoint_returns_its_results_shape(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("trend", TRENDS, insight_results=lambda v: [{"label": v.get("$browser", "all"), "data": [1]}])
    body = api.run("trend", body={"variables": {"$browser": "Chrome", "date_from": "-7d"}}).json()
    assert body["results"] == [{"label": "Chrome", "data": [1]}]
    assert "columns" not in body


@pytest.mark.parametrize("field", ["limit", "offset"])
def test_insight_endpoint_rejects_paging(api: Api, emu: PostHogEmulator, field: str) -> None:
    emu.add_endpoint("trend", TRENDS)
    assert envelope(api.run("trend", body={field: 1, "limit": 1}))[::4] == (400, field)


def test_insight_endpoint_rejects_an_unknown_variable(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("trend", TRENDS)
    assert envelope(api.run("trend", body={"variables": {"country": "US"}}))[3] == "Unknown variable(s): country"


def test_filters_override_on_an_insight_endpoint_is_deprecated_but_allowed(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("trend", TRENDS)
    response = api.run("trend", body={"filters_override": {"date_from": "-7d"}})
    assert response.status_code == 200
    assert "X-PostHog-Warn" in response.headers


def test_materialized_run_requires_every_variable(api: Api, emu: PostHogEmulator) -> None:
    emu.materialize("daily_signups")
    response = api.run()
    assert envelope(response) == (
        400,
        "validation_error",
        "invalid_input",
        "Required variable(s) 'country' not provided",
        "variables",
    )


def test_materialized_run_says_so_and_direct_bypasses_it(api: Api, emu: PostHogEmulator) -> None:
    emu.materialize("daily_signups")
    materialized = api.run(body={"variables": {"country": "US"}}).json()
    direct = api.run(body={"refresh": "direct"}).json()
    assert materialized["endpoint_materialized"] is True
    assert materialized["endpoint_materialized_at"].endswith("+00:00")
    assert "endpoint_materialized" not in direct
    assert direct["results"] == materialized["results"]


def test_materialized_insight_requires_breakdowns_unless_optional(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("trend", TRENDS, optional_breakdown_properties=["$browser"], materialized=True)
    assert api.run("trend").status_code == 200
    assert envelope(api.run("trend", body={"variables": {"date_from": "-7d"}}))[3] == "Unknown variable(s): date_from"
