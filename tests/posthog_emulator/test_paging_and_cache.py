"""Row paging (limit/offset/hasMore, row caps) and the result cache of the G3 emulator
(REFERENCE.md §2.6, §4.1, §7 rules 11-12)."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

from .conftest import Api

ROWS_CTE = "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) SELECT i, i * 2 FROM seq"


@pytest.fixture
def big(emu: PostHogEmulator) -> PostHogEmulator:
    """The seeded emulator plus table ``numbers`` (10,000 rows) and endpoint ``numbers`` over it."""
    emu.add_table("numbers", [("i", "INTEGER"), ("twice", "INTEGER")], ROWS_CTE.format(n=10_000))
    emu.add_endpoint("numbers", "SELECT i, twice FROM numbers WHERE i >= {variables.start} ORDER BY i", {"start": 1})
    return emu


def test_paging_10000_rows_until_has_more_is_false(api: Api, big: PostHogEmulator) -> None:
    seen: list[int] = []
    offset, pages = 0, 0
    while True:
        body = api.run("numbers", body={"limit": 1000, "offset": offset}).json()
        seen += [row[0] for row in body["results"]]
        pages += 1
        if not body["hasMore"]:
            break
        offset += 1000
    assert pages == 10
    assert seen == list(range(1, 10_001))


def test_page_ending_exactly_at_the_last_row_has_no_more(api: Api, big: PostHogEmulator) -> None:
    body = api.run("numbers", body={"limit": 5000, "offset": 5000}).json()
    assert (len(body["results"]), body["hasMore"]) == (5000, False)


def test_page_past_the_end_is_empty(api: Api, big: PostHogEmulator) -> None:
    body = api.run("numbers", body={"limit": 10, "offset": 20_000}).json()
    assert (body["results"], body["hasMore"]) == ([], False)


def test_limit_in_the_sql_is_a_ceiling_for_paging(api: Api, big: PostHogEmulator) -> None:
    big.add_endpoint("first25", "SELECT i FROM numbers ORDER BY i LIMIT 25")
    first = api.run("first25", body={"limit": 20}).json()
    rest = api.run("first25", body={"limit": 20, "offset": 20}).json()
    assert (len(first["results"]), first["hasMore"]) == (20, True)
    assert (len(rest["results"]), rest["hasMore"]) == (5, False)


def test_without_limit_rows_are_capped_at_100_and_has_more_is_false(api: Api, big: PostHogEmulator) -> None:
    body = api.run("numbers").json()
    assert (len(body["results"]), body["hasMore"]) == (100, False)


def test_an_explicit_sql_limit_lifts_the_default_cap(api: Api, big: PostHogEmulator) -> None:
    big.add_endpoint("first2000", "SELECT i FROM numbers ORDER BY i LIMIT 2000")
    assert len(api.run("first2000").json()["results"]) == 2000


def test_cache_serves_the_second_run_unchanged(api: Api, emu: PostHogEmulator) -> None:
    first = api.run().json()
    second = api.run().json()
    assert (first["is_cached"], second["is_cached"]) == (False, True)
    assert second["last_refresh"] == first["last_refresh"]
    assert second["results"] == first["results"]
    assert emu.counters.executions("daily_signups") == 1


def test_refresh_force_recomputes(api: Api, emu: PostHogEmulator) -> None:
    api.run()
    emu.execute_sql("INSERT INTO signups VALUES ('2026-05-02', 'US', 1)")
    cached = api.run().json()
    forced = api.run(body={"refresh": "force"}).json()
    assert cached["is_cached"] is True
    assert len(cached["results"]) == 3
    assert (forced["is_cached"], len(forced["results"])) == (False, 4)
    assert emu.counters.executions("daily_signups") == 2


def test_cache_expires_after_data_freshness_seconds(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("quick", "SELECT count() AS c FROM signups", data_freshness_seconds=900)
    api.run("quick")
    emu.advance(899)
    assert api.run("quick").json()["is_cached"] is True
    emu.advance(2)
    assert api.run("quick").json()["is_cached"] is False


def test_cache_target_age_is_last_refresh_plus_freshness(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("quick", "SELECT 1 AS one", data_freshness_seconds=3600)
    body = api.run("quick").json()
    refreshed = dt.datetime.fromisoformat(body["last_refresh"])
    assert dt.datetime.fromisoformat(body["cache_target_age"]) - refreshed == dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(body["next_allowed_client_refresh"]) - refreshed == dt.timedelta(minutes=1)


def test_cache_is_keyed_by_variables_and_paging(api: Api) -> None:
    api.run()
    assert api.run(body={"variables": {"country": "DE"}}).json()["is_cached"] is False
    assert api.run(body={"limit": 1}).json()["is_cached"] is False
    assert api.run(body={"variables": {"country": "US"}}).json()["is_cached"] is True  # the default, spelled out


def test_a_new_version_does_not_reuse_the_old_versions_cache(api: Api) -> None:
    api.run()
    query = api.get("endpoints/daily_signups/").json()["query"]
    query["query"] += " LIMIT 1"
    api.patch("endpoints/daily_signups/", json={"query": query})
    body = api.run().json()
    assert (body["is_cached"], body["endpoint_version"], len(body["results"])) == (False, 2, 1)


def test_materialized_results_are_recomputed_after_the_next_materialization(api: Api, emu: PostHogEmulator) -> None:
    emu.add_endpoint("total", "SELECT sum(n) AS n FROM signups", data_freshness_seconds=3600, materialized=True)
    api.run("total")
    emu.advance(3500)
    assert api.run("total").json()["is_cached"] is True
    emu.advance(200)  # a materialization ran at 3600 s
    assert api.run("total").json()["is_cached"] is False
