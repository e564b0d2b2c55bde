"""RedashClient without Airflow, and the whole objects the tools read and make, against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashConfigError, DashNotFoundError, DashResponseError
from airflow_provider_dash.hooks.redash_client import RedashClient
from airflow_provider_dash.models.redash_tools import SavedQuery, WidgetToCreate, parse
from airflow_provider_dash.pool import BoundedPool


def test_from_url_normalises_like_a_connection_and_names_the_url_in_errors() -> None:
    client = RedashClient.from_url("redash.example.com/acme/", "k3y", retries=2)
    assert (client.config.base_url, client.config.retries) == ("https://redash.example.com/acme", 2)
    assert "k3y" not in repr(client.config)
    with pytest.raises(DashConfigError, match="'--url' has no API key"):
        RedashClient.from_url("https://redash.example.com", " ")


def test_pages_read_through_a_pool_are_the_pages_read_one_by_one(
    dash_emulator: Any, client: RedashClient, pool: BoundedPool
) -> None:
    for n in range(10):
        dash_emulator.add_query(f"extra {n}", f"select {n}")
    one_by_one = [q.id for q in client.iter_saved_queries(page_size=3)]
    before = dash_emulator.counters.requests("/api/queries", "GET")

    concurrent = [q.id for q in client.iter_saved_queries(page_size=3, pool=pool)]

    assert concurrent == one_by_one
    assert len(concurrent) == 17
    assert dash_emulator.counters.requests("/api/queries", "GET") - before == 6  # ceil(17 / 3) pages


def test_a_saved_query_has_its_visualizations_and_never_its_own_api_key(client: RedashClient) -> None:
    query = client.get_saved_query(5)

    assert [(v.type, v.name) for v in query.visualizations] == [("TABLE", "Table"), ("CHART", "Total by region (bar)")]
    assert "api_key" not in query.model_dump()


def test_a_fork_is_a_draft_copy_with_copies_of_the_visualizations(client: RedashClient) -> None:
    source = client.get_saved_query(5)

    fork = client.fork_query(5)

    assert (fork.name, fork.is_draft, fork.query) == (f"Copy of (#5) {source.name}", True, source.query)
    assert [(v.type, v.name, v.options) for v in fork.visualizations] == [
        (v.type, v.name, v.options) for v in source.visualizations
    ]
    assert {v.id for v in fork.visualizations}.isdisjoint(v.id for v in source.visualizations)
    with pytest.raises(DashNotFoundError):
        client.fork_query(999)


def test_visualizations_and_widgets_are_created_and_read_back_in_the_layout(client: RedashClient) -> None:
    chart = client.create_visualization(1, type="CHART", name="Amounts", options={"globalSeriesType": "line"})
    dashboard = client.create_dashboard("Tools layout")
    position = {"col": 3, "row": 2, "sizeX": 3, "sizeY": 4}

    client.create_widget(
        WidgetToCreate(dashboard_id=dashboard.id, visualization_id=chart.id, options={"position": position})
    )
    client.create_widget(WidgetToCreate(dashboard_id=dashboard.id, visualization_id=None, text="## notes"))

    by_slug = client.get_dashboard_layout(dashboard.slug)
    assert by_slug == client.get_dashboard_layout(dashboard.id)
    chart_widget, text_widget = by_slug.widgets
    assert (chart_widget.visualization_id, chart_widget.query_id, chart_widget.options["position"]) == (
        chart.id,
        1,
        position,
    )
    assert (text_widget.is_text, text_widget.text) == (True, "## notes")


def test_data_sources_are_listed_with_their_types(dash_emulator: Any, client: RedashClient) -> None:
    dash_emulator.objects.add_data_source("warehouse", "bigquery")

    assert [(s.name, s.type) for s in client.list_data_source_objects()] == [
        ("sample-pg", "pg"),
        ("warehouse", "bigquery"),
    ]


def test_a_malformed_object_is_a_response_error_naming_the_object_and_the_field() -> None:
    with pytest.raises(DashResponseError, match=r"query 7 has a bad field 'tags.0'.*got dict"):
        parse(SavedQuery, {"id": 7, "tags": [{"not": "a tag"}]}, "query 7")
    with pytest.raises(DashResponseError, match=r"query has a bad field 'id'"):
        parse(SavedQuery, {"name": "no id"}, "query")


def test_more_threads_than_requests_keeps_by_default_get_their_own_connections(client: RedashClient) -> None:
    client.ensure_connections(16)

    adapter = client.get_conn().get_adapter(client.config.base_url)
    assert adapter._pool_maxsize == 16  # type: ignore[attr-defined]
