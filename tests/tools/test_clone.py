"""clone-dashboard against emulators: same server and across two, queries that run, matching widgets, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashApiError, DashConfigError
from airflow_provider_dash.hooks.redash_client import RedashClient
from airflow_provider_dash.pool import BoundedPool
from airflow_provider_dash.tools.redash_clone import CloneResult, plan_clone, run_clone


def _assert_same_layout(source: RedashClient, target: RedashClient, result: CloneResult, dashboard: int) -> None:
    """Widget by widget: same options (position, parameter mappings), text, width, and a copy of the visualization."""
    before = source.get_dashboard_layout(dashboard)
    after = target.get_dashboard_layout(result.dashboard_id)
    assert len(after.widgets) == len(before.widgets) == 6
    visualizations = {
        v.id: (v.type, v.name, v.options)
        for client, ids in ((source, result.queries), (target, result.queries.values()))
        for qid in ids
        for v in client.get_saved_query(qid).visualizations
    }
    for old, new in zip(before.widgets, after.widgets, strict=True):
        assert (new.options, new.text, new.width) == (old.options, old.text, old.width)
        if old.is_text:
            assert new.is_text
            continue
        assert new.query_id == result.queries[old.query_id]
        assert new.visualization_id == result.visualizations[old.visualization_id]
        assert visualizations[new.visualization_id] == visualizations[old.visualization_id]
    assert (after.tags, after.is_draft) == (before.tags, before.is_draft)


def _assert_copies_run(source: RedashClient, target: RedashClient, result: CloneResult, prefix: str) -> None:
    for old, new in result.queries.items():
        original, copy = source.get_saved_query(old), target.get_saved_query(new)
        assert (copy.name, copy.query, copy.options, copy.schedule) == (
            prefix + original.name,
            original.query,
            original.options,
            None,
        )
        result_id = target.run_query(new, max_age=0, timeout=60, poll_interval=0.2)
        assert target.get_query_result(result_id).row_count > 0


def test_a_dashboard_cloned_on_its_server_by_slug_has_matching_widgets_and_queries_that_run(
    client: RedashClient, pool: BoundedPool, dash_emulator: Any
) -> None:
    plan = plan_clone(client, "sales-overview", prefix="Test: ", pool=pool)

    result = run_clone(client, plan)

    assert plan.same_server
    assert sorted(result.queries) == [1, 2, 5, 6]
    assert client.get_dashboard_layout(result.dashboard_id).name == "Test: Sales Overview"
    _assert_same_layout(client, client, result, 1)
    _assert_copies_run(client, client, result, "Test: ")
    assert dash_emulator.counters.requests("/api/queries/{query_id}/fork", "POST") == 4


def test_a_dashboard_cloned_onto_another_server_maps_data_sources_by_name(
    client: RedashClient, client_of: Any, dash_emulator_factory: Any, pool: BoundedPool
) -> None:
    other = dash_emulator_factory(demo_data=False)
    other.objects.add_data_source("unrelated", "mysql")
    sample = other.objects.add_data_source("sample-pg", "pg")
    other.add_table(
        "orders", ["id", "customer", "region", "amount", "quantity", "created_at", "order_date"], other_orders()
    )
    target = client_of(other)

    plan = plan_clone(client, 1, target=target, name="Copied", pool=pool)
    result = run_clone(client, plan, target=target)

    assert not plan.same_server
    assert {q.target_data_source_id for q in plan.queries} == {sample.id}
    assert {q.data_source_id for q in other.objects.queries.values()} == {sample.id}
    _assert_same_layout(client, target, result, 1)
    _assert_copies_run(client, target, result, "Copy of ")
    assert result.url == f"{other.url}/dashboards/{result.dashboard_id}-copied"


def other_orders() -> list[tuple[Any, ...]]:
    """A few rows the demo queries find (all parameter defaults included)."""
    return [
        (i, "customer_1", region, 100.0 + i, 5, "2024-02-01 10:00:00", "2024-02-01")
        for i, region in enumerate(("north", "south", "east", "west"), 1)
    ]


def test_a_missing_data_source_on_the_target_fails_before_anything_is_created(
    client: RedashClient, client_of: Any, dash_emulator_factory: Any
) -> None:
    other = dash_emulator_factory(demo_data=False)
    other.objects.add_data_source("warehouse", "pg")

    with pytest.raises(DashConfigError, match=r"query 1: no data source named 'sample-pg'.*Nothing was created"):
        plan_clone(client, "sales-overview", target=client_of(other))
    assert [method for (_, method, _) in other.counters.request_table() if method != "GET"] == []


def test_a_dry_run_plans_and_creates_nothing(client: RedashClient, dash_emulator: Any) -> None:
    plan = plan_clone(client, "sales-overview")

    lines = plan.describe()
    assert lines[0] == "Clone dashboard 1 'Sales Overview' as 'Copy of Sales Overview' on the same server:"
    assert "  query 5 'Totals by region' -> 'Copy of Totals by region' (fork)" in lines
    assert "  widget 3: CHART 'Total by region (bar)' of query 5 at col 0, row 8, sizeX 3, sizeY 8" in lines
    assert [method for (_, method, _) in dash_emulator.counters.request_table() if method != "GET"] == []


@pytest.mark.parametrize("across", [False, True], ids=["same server", "another server"])
def test_a_clone_that_fails_half_way_leaves_nothing_behind(
    client: RedashClient, client_of: Any, dash_emulator: Any, second_emulator: Any, across: bool
) -> None:
    server = second_emulator if across else dash_emulator
    target = client_of(server) if across else client
    active_before = _active(server)
    plan = plan_clone(client, "sales-overview", target=target)
    server.set_faults(routes=["/api/widgets"], methods=["POST"], error_rate=1.0, error_statuses=(500,))

    with pytest.raises(DashApiError, match="new widget on dashboard") as failure:
        run_clone(client, plan, target=target)

    assert _active(server) == active_before
    assert len(server.objects.queries) > len(active_before[0]), "the copies were made, then archived"
    assert "Archived what this run had created" in failure.value.__notes__[0]


def _active(emulator: Any) -> tuple[set[int], set[int]]:
    objects = emulator.objects
    return (
        {q.id for q in objects.queries.values() if not q.is_archived},
        {d.id for d in objects.dashboards.values() if not d.is_archived},
    )


def test_a_dropdown_fed_by_another_query_points_at_its_copy_on_another_server(
    dash_emulator: Any, client: RedashClient, client_of: Any, second_emulator: Any
) -> None:
    regions = dash_emulator.add_query("Regions", "select distinct region from orders")
    param = {"name": "region", "title": "Region", "type": "query", "queryId": regions, "value": "north"}
    dropdown = dash_emulator.add_query("By region", "select * from orders where region = '{{ region }}'", [param])
    dashboard = dash_emulator.add_dashboard("Dropdown", [dropdown])
    target = client_of(second_emulator)

    plan = plan_clone(client, dashboard, target=target)
    result = run_clone(client, plan, target=target)

    assert [(q.id, q.dependency) for q in plan.queries] == [(regions, True), (dropdown, False)]
    (copied,) = target.get_saved_query(result.queries[dropdown]).parameters
    assert copied["queryId"] == result.queries[regions]
