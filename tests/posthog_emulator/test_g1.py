"""The first generation (G1, with G1.5's versions): legacy run keys, RefreshType, the 202 path and its
``/query`` poll, unpaginated lists, bare version arrays, hard delete (REFERENCE.md §0, §2, §3.2, §4.2, §7 rule 21)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

from .conftest import DAILY_SQL, Api, envelope, seed, wait_for

STALE = {"refresh": "async_except_on_cache_miss", "client_query_id": "q-stale"}


def stale_entry(api: Api) -> None:
    """Cache a result, then let it go stale (G1's default cache_age_seconds is 3600)."""
    assert api.run().status_code == 200
    api.emu.advance(3601)


def hogql(sql: str) -> dict[str, Any]:
    return {"kind": "HogQLQuery", "query": sql}


def test_g1_run_takes_variables_values(api_g1: Api) -> None:
    body = api_g1.run(body={"variables_values": {"country": "DE"}}).json()
    assert body["results"] == [["2026-04-29", 4], ["2026-04-30", 20]]


def test_g1_ignores_unknown_variable_names(api_g1: Api) -> None:
    response = api_g1.run(body={"variables_values": {"nope": 1}})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_g1_variables_override_matches_by_code_name(api_g1: Api) -> None:
    body = api_g1.run(body={"variables_override": [{"code_name": "country", "value": "DE"}]}).json()
    assert len(body["results"]) == 2


def test_g1_query_override_replaces_query_fields(api_g1: Api) -> None:
    body = api_g1.run(body={"query_override": {"query": "SELECT 42 AS answer"}}).json()
    assert body["results"] == [[42]]


@pytest.mark.parametrize("key", ["variables", "limit", "debug"])
def test_g1_refuses_g3_keys_as_a_parse_error(api_g1: Api, key: str) -> None:
    status, type_, code, detail, attr = envelope(api_g1.run(body={key: 1}))
    assert (status, type_, code, attr) == (400, "invalid_request", "parse_error", None)
    assert key in detail


@pytest.mark.parametrize("refresh", ["async", "lazy_async", "force_async"])
def test_g1_refuses_async_refresh_modes(api_g1: Api, refresh: str) -> None:
    assert envelope(api_g1.run(body={"refresh": refresh})) == (
        400,
        "validation_error",
        "invalid_input",
        "Only sync modes are supported (refresh param)",
        None,
    )


def test_g1_refuses_a_g3_refresh_value(api_g1: Api) -> None:
    assert envelope(api_g1.run(body={"refresh": "force"}))[2] == "parse_error"


def test_g1_force_cache_still_computes(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    body = api_g1.run(body={"refresh": "force_cache"}).json()
    assert body["is_cached"] is False
    assert emu_g1.counters.executions("daily_signups") == 1


def test_g1_force_blocking_recomputes(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    api_g1.run()
    assert api_g1.run(body={"refresh": "blocking"}).json()["is_cached"] is True
    assert api_g1.run(body={"refresh": "force_blocking"}).json()["is_cached"] is False


def test_g1_run_answers_the_query_runner_shape_with_underscore_version(api_g1: Api) -> None:
    body = api_g1.run().json()
    assert next(iter(body)) == "results"
    assert {"hogql", "timings", "hasMore", "limit", "offset", "modifiers", "cache_key", "_version"} <= set(body)
    assert (body["_version"], body["limit"], body["hasMore"]) == (1, 100, False)
    assert not {"endpoint_version", "execution_id", "name"} & set(body)


def test_g1_materialized_run_uses_underscore_keys(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    emu_g1.materialize("daily_signups")
    body = api_g1.run().json()  # G1 did not make materialized variables mandatory
    assert body["_materialized"] is True
    assert "_materialized" not in api_g1.run(body={"refresh": "force_blocking"}).json()


def test_g1_cache_miss_with_async_except_on_cache_miss_is_a_plain_200(api_g1: Api) -> None:
    response = api_g1.run(body=STALE)
    assert (response.status_code, response.json()["query_status"]) == (200, None)


def test_g1_fresh_entry_with_async_except_on_cache_miss_is_served_from_cache(api_g1: Api) -> None:
    api_g1.run()
    response = api_g1.run(body=STALE)
    assert (response.status_code, response.json()["is_cached"]) == (200, True)


def test_g1_stale_entry_answers_202_then_the_poll_answers_200(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    emu_g1.execute_sql("INSERT INTO signups VALUES ('2026-05-02', 'US', 1)")
    response = api_g1.run(body=STALE)
    body = response.json()
    assert response.status_code == 202
    assert (body["is_cached"], len(body["results"])) == (True, 3)
    assert (body["query_status"]["id"], body["query_status"]["complete"]) == ("q-stale", False)
    done = wait_for(lambda: (r := api_g1.get("query/q-stale/")).status_code == 200 and r)
    status = done.json()["query_status"]
    assert (status["complete"], status["error"]) == (True, False)
    assert len(status["results"]["results"]) == 4
    assert api_g1.run().json()["is_cached"] is True  # the recalculation refreshed the cache


def test_g1_poll_answers_202_while_the_recalculation_runs(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    emu_g1.set_endpoint_delay("daily_signups", 3600)
    api_g1.run(body=STALE)
    running = wait_for(lambda: (r := api_g1.get("query/q-stale/")).json()["query_status"]["pickup_time"] and r)
    assert running.status_code == 202
    assert running.json()["query_status"]["complete"] is False


def test_g1_poll_answers_202_with_no_pickup_while_queued(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    emu_g1.settings.g1_pickup_delay = 3600
    api_g1.run(body=STALE)
    queued = api_g1.get("query/q-stale/")
    assert (queued.status_code, queued.json()["query_status"]["pickup_time"]) == (202, None)
    dequeued = api_g1.delete("query/q-stale/", params={"dequeue_only": "true"})
    assert dequeued.json() == {"message": "Only tried to dequeue, not cancelling query on clickhouse"}
    assert api_g1.get("query/q-stale/").status_code == 404


def test_g1_cancelled_recalculation_is_gone(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    emu_g1.set_endpoint_delay("daily_signups", 3600)
    api_g1.run(body=STALE)
    wait_for(lambda: emu_g1.in_flight())
    assert api_g1.delete("query/q-stale/").json() == {"message": "Cancelled query on clickhouse"}
    assert api_g1.get("query/q-stale/").status_code == 404
    wait_for(lambda: not emu_g1.in_flight())


def test_g1_delete_of_a_complete_query_keeps_its_status(api_g1: Api) -> None:
    stale_entry(api_g1)
    api_g1.run(body=STALE)
    wait_for(lambda: api_g1.get("query/q-stale/").status_code == 200)
    assert api_g1.delete("query/q-stale/").json() == {"message": "Query already complete"}
    assert api_g1.get("query/q-stale/").status_code == 200


def test_g1_status_expires_after_20_minutes(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    api_g1.run(body=STALE)
    wait_for(lambda: api_g1.get("query/q-stale/").status_code == 200)
    emu_g1.advance(1201)
    assert envelope(api_g1.get("query/q-stale/"))[:3] == (404, "invalid_request", "not_found")


def test_g1_failed_recalculation_with_a_message_polls_400(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    emu_g1.execute_sql("DROP TABLE signups")
    api_g1.run(body=STALE)
    failed = wait_for(lambda: (r := api_g1.get("query/q-stale/")).status_code != 202 and r)
    status = failed.json()["query_status"]
    assert (failed.status_code, status["error"], status["error_message"]) == (400, True, "Unknown table `signups`.")


def test_g1_failed_recalculation_without_a_message_polls_500(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    stale_entry(api_g1)
    emu_g1.fail_next_runs("server_error")
    api_g1.run(body=STALE)
    failed = wait_for(lambda: (r := api_g1.get("query/q-stale/")).status_code != 202 and r)
    assert (failed.status_code, failed.json()["query_status"]["error_message"]) == (500, None)


def test_g1_list_is_unpaginated(api_g1: Api) -> None:
    body = api_g1.get("endpoints/").json()
    assert list(body) == ["results"]
    assert body["results"][0]["cache_age_seconds"] == 3600
    assert "url" not in body["results"][0]


def test_g1_versions_are_a_bare_array_and_one_version_has_its_route(api_g1: Api) -> None:
    api_g1.patch("endpoints/daily_signups/", json={"query": hogql("SELECT 1 AS one")})
    versions = api_g1.get("endpoints/daily_signups/versions/").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert set(versions[0]) == {"id", "version", "query", "created_at", "created_by"}
    assert api_g1.get("endpoints/daily_signups/versions/1/").json()["query"]["query"] == DAILY_SQL
    missing = api_g1.get("endpoints/daily_signups/versions/9")
    assert (missing.status_code, missing.json()) == (404, {"error": "Version 9 not found"})


def test_g1_update_ignores_fields_it_did_not_know(api_g1: Api) -> None:
    response = api_g1.patch("endpoints/daily_signups/", json={"deleted": True, "tags": ["x"], "description": "d"})
    assert (response.status_code, response.json()["description"]) == (200, "d")
    assert api_g1.get("endpoints/daily_signups/").status_code == 200


def test_g1_delete_is_a_hard_delete(api_g1: Api) -> None:
    assert api_g1.delete("endpoints/daily_signups/").status_code == 204
    assert api_g1.get("endpoints/daily_signups/versions/").status_code == 404
    created = api_g1.post("endpoints/", json={"name": "daily_signups", "query": hogql("SELECT 1 AS one")})
    assert (created.status_code, created.json()["current_version"]) == (201, 1)


def test_g1_duplicate_name_gets_the_generic_message(api_g1: Api) -> None:
    response = api_g1.post("endpoints/", json={"name": "daily_signups", "query": hogql("SELECT 1 AS one")})
    assert envelope(response) == (400, "validation_error", "invalid_input", "Failed to create endpoint.", None)


@pytest.mark.parametrize("age", [60, 86401])
def test_g1_cache_age_outside_its_range_is_400(api_g1: Api, age: int) -> None:
    response = api_g1.post(
        "endpoints/", json={"name": "x", "query": hogql("SELECT 1 AS one"), "cache_age_seconds": age}
    )
    assert envelope(response)[::4] == (400, "cache_age_seconds")


def test_g1_create_refuses_g3_fields(api_g1: Api) -> None:
    body = {"name": "x", "query": hogql("SELECT 1 AS one"), "data_freshness_seconds": 900}
    assert envelope(api_g1.post("endpoints/", json=body))[2] == "parse_error"


def test_g1_last_execution_times_is_closed_to_personal_keys(api_g1: Api) -> None:
    response = api_g1.post("endpoints/last_execution_times/", json={"names": ["daily_signups"]})
    assert envelope(response) == (
        403,
        "authentication_error",
        "permission_denied",
        "This action does not support Personal API Key access",
        None,
    )


def test_g1_refuses_project_secret_keys(api_g1: Api, emu_g1: PostHogEmulator) -> None:
    assert envelope(api_g1.run(key=emu_g1.secret_key))[:3] == (401, "authentication_error", "authentication_failed")


def test_g1_has_no_bulk_update_tags_action(api_g1: Api) -> None:
    assert api_g1.post("endpoints/bulk_update_tags/", json={}).status_code == 405  # the {name} route has no POST
    assert api_g1.get("endpoints/bulk_update_tags/").status_code == 404


def test_g1_rate_limits_ignore_materialization(
    posthog_emulator_factory: Callable[..., PostHogEmulator], http: httpx.Client
) -> None:
    from airflow_provider_dash.testing.posthog import Limits

    emu = seed(posthog_emulator_factory(generation="g1", limits=Limits(burst=2, materialized_burst=100)))
    emu.materialize("daily_signups")
    api = Api(http, emu)
    assert [api.run().status_code for _ in range(3)] == [200, 200, 429]


def test_g1_runs_a_chosen_version(api_g1: Api) -> None:
    api_g1.patch("endpoints/daily_signups/", json={"query": hogql("SELECT 1 AS one")})
    assert api_g1.run().json()["_version"] == 2
    old = api_g1.run(body={"version": 1}).json()
    assert (old["_version"], len(old["results"])) == (1, 3)
    assert api_g1.run(body={"version": 5}).json() == {
        "error": "Version 5 not found for endpoint 'daily_signups'",
        "current_version": 2,
    }
