"""PostHogHook over real HTTP against the emulator: every route of REFERENCE.md §2, G3 and G1."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashNotFoundError
from airflow_provider_dash.hooks._posthog_runs import RunSpec, new_client_query_id
from airflow_provider_dash.models.posthog import Endpoint, EndpointRun, EndpointVersion

from .helpers import ENDPOINT, ENDPOINTS, QUERY, RUN, requests, wait_for

SQL = "SELECT day, sum(n) AS signups FROM signups WHERE country = {variables.country} GROUP BY day ORDER BY day"


def _query(sql: str = SQL, default: str = "US") -> dict[str, Any]:
    return {
        "kind": "HogQLQuery",
        "query": sql,
        "variables": {"v1": {"variableId": "v1", "code_name": "country", "value": default}},
    }


def test_list_pages_through_every_endpoint(ph: Any, hook: Any) -> None:
    for index in range(5):
        hook.create_endpoint(f"extra_{index}", "SELECT 1 AS one")

    names = [e.name for e in hook.list_endpoints(page_size=2)]

    assert sorted(names) == sorted(
        ["daily_signups", "events_export", "slow_signups"] + [f"extra_{i}" for i in range(5)]
    )
    assert requests(ph, ENDPOINTS, "GET") == 4  # 8 endpoints, 2 per page
    assert all(isinstance(e, Endpoint) for e in hook.list_endpoints())


def test_list_filters_on_is_active(hook: Any) -> None:
    hook.update_endpoint("events_export", is_active=False)

    assert [e.name for e in hook.list_endpoints(is_active=False)] == ["events_export"]
    assert "events_export" not in [e.name for e in hook.list_endpoints(is_active=True)]


def test_retrieve_reads_the_variables_and_columns(hook: Any) -> None:
    endpoint = hook.get_endpoint("daily_signups")

    assert endpoint.is_hogql
    assert [(v.code_name, v.value) for v in endpoint.variables] == [("country", "US")]
    assert [c.name for c in endpoint.columns] == ["day", "signups"]
    assert endpoint.current_version == 1
    assert endpoint.ui_url
    assert endpoint.ui_url.endswith("/endpoints/daily_signups")


def test_create_update_with_a_new_version_and_retrieve_a_version(ph: Any, hook: Any) -> None:
    created = hook.create_endpoint("by_country", _query(), description="first")
    updated = hook.update_endpoint("by_country", query=_query(SQL.replace("ORDER BY day", "ORDER BY day DESC")))
    first = hook.get_endpoint("by_country", version=1)

    assert created.current_version == 1
    assert updated.current_version == 2
    assert first.version == 1
    assert "DESC" not in first.query["query"]
    assert hook.get_version("by_country", 2).query["query"].endswith("DESC")
    assert [v.version for v in hook.list_versions("by_country")] == [2, 1]
    assert all(isinstance(v, EndpointVersion) for v in hook.list_versions("by_country"))


def test_update_of_a_version_changes_only_that_version(hook: Any) -> None:
    hook.update_endpoint("daily_signups", query=_query(SQL + " LIMIT 5"))

    hook.update_endpoint("daily_signups", version=1, description="the old one")

    assert hook.get_endpoint("daily_signups", version=1).description == "the old one"
    assert hook.get_endpoint("daily_signups").description != "the old one"


def test_delete_is_soft_and_frees_the_name(ph: Any, hook: Any) -> None:
    hook.delete_endpoint("events_export")

    with pytest.raises(DashNotFoundError, match="endpoint 'events_export' not found"):
        hook.get_endpoint("events_export")
    assert hook.create_endpoint("events_export", "SELECT 1 AS one").name == "events_export"
    assert requests(ph, ENDPOINT, "DELETE", 204) == 1


def test_run_returns_typed_rows_and_uses_the_cache(ph: Any, hook: Any) -> None:
    first = hook.run_endpoint("daily_signups", {"country": "DE"})
    again = hook.run_endpoint("daily_signups", {"country": "DE"})
    forced = hook.run_endpoint("daily_signups", {"country": "DE"}, refresh="force")

    assert isinstance(first, EndpointRun)
    assert first.columns == ("day", "signups")
    assert first.row_count == 90
    assert not first.has_more
    assert (first.is_cached, again.is_cached, forced.is_cached) == (False, True, False)
    assert first.endpoint_version == 1
    assert first.execution_id
    assert ph.counters.executions("daily_signups") == 2


def test_run_pages_with_limit_and_offset_until_has_more_is_false(ph: Any, hook: Any) -> None:
    spec = RunSpec("events_export", {}, client_query_id=new_client_query_id())

    pages = list(hook.run_pages(spec, page_size=4000))

    assert [p.row_count for p in pages] == [4000, 4000, 2000]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [row[0] for p in pages for row in p.results] == list(range(1, 10_001))
    assert requests(ph, RUN, "POST", 200) == 3


def test_run_of_a_version(hook: Any) -> None:
    hook.update_endpoint("daily_signups", query=_query(SQL + " LIMIT 3"))

    assert hook.run_endpoint("daily_signups", version=1).row_count == 90
    assert hook.run_endpoint("daily_signups").row_count == 3


def test_last_execution_times_name_the_endpoints_run(hook: Any) -> None:
    hook.run_endpoint("daily_signups")

    times = hook.last_execution_times(["daily_signups", "events_export"])

    assert list(times) == ["daily_signups"]


def test_query_status_of_a_synchronous_run_is_not_found_and_cancel_answers(ph: Any, hook: Any) -> None:
    with pytest.raises(DashNotFoundError, match="query abc not found"):
        hook.get_query_status("abc")

    assert hook.cancel_query("abc") == "Cancelled query on clickhouse"
    assert requests(ph, QUERY, "DELETE", 200) == 1


def test_test_connection_names_the_generation(hook: Any) -> None:
    assert hook.test_connection() == (True, hook.test_connection()[1])
    assert "G3 API" in hook.test_connection()[1]


# ---------------------------------------------------------------- G1


def test_g1_list_retrieve_versions_and_run(ph_g1: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection(emulator=ph_g1))

    assert sorted(e.name for e in hook.list_endpoints()) == ["daily_signups", "events_export", "slow_signups"]
    assert hook.generation == "g1"
    assert hook.get_endpoint("daily_signups").cache_age_seconds is not None
    run = hook.run_endpoint("daily_signups", {"country": "DE"}, refresh="force")
    assert run.row_count == 90
    assert run.endpoint_version == 1
    assert [v.version for v in hook.list_versions("daily_signups")] == [1]
    assert hook.get_version("daily_signups", 1).version == 1
    assert hook.get_endpoint("daily_signups", version=1).version == 1
    assert requests(ph_g1, "endpoints/{name}/versions/{version}", "GET", 200) == 2
    assert requests(ph_g1, RUN, "POST", 400) == 0  # the generation was known: only G1 keys were sent


def test_g1_run_pages_is_one_run(ph_g1: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection(emulator=ph_g1))

    pages = list(hook.run_pages(RunSpec("events_export", {}, client_query_id=new_client_query_id())))

    assert len(pages) == 1
    assert pages[0].has_more


def test_g1_query_status_of_a_failed_recalculation_says_what_failed(
    ph_g1: Any, ph_connection: Any, make_hook: Any
) -> None:
    import httpx

    from airflow_provider_dash.exceptions import DashError

    hook = make_hook(ph_connection(emulator=ph_g1))
    run_url, headers = ph_g1.run_url("daily_signups"), ph_g1.headers()
    assert httpx.post(run_url, headers=headers, json={}).status_code == 200  # cached, then stale:
    ph_g1.advance(3601)
    ph_g1.execute_sql("DROP TABLE signups")  # the recalculation behind the 202 fails
    stale = {"refresh": "async_except_on_cache_miss", "client_query_id": "q-broken"}
    assert httpx.post(run_url, headers=headers, json=stale).status_code == 202

    with pytest.raises(DashError, match=r"query q-broken failed on the server \(HTTP 400\): Unknown table `signups`"):
        wait_for(lambda: hook.get_query_status("q-broken").complete and None)
