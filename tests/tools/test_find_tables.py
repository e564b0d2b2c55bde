"""find-tables against the emulator: each data source's dialect, CTEs, joins, parameters, SQL that does not parse."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.hooks.redash_client import RedashClient
from airflow_provider_dash.pool import BoundedPool
from airflow_provider_dash.tools.redash_tables import TablesReport, find_tables

CASES = {
    "cte": (
        "WITH recent AS (SELECT * FROM orders WHERE amount > 10) "
        "SELECT * FROM recent r JOIN customers c ON c.id = r.cid",
        ("orders", "customers"),
    ),
    "joins": ("SELECT * FROM a JOIN b ON a.id = b.id LEFT JOIN c USING (id) CROSS JOIN d", ("a", "b", "c", "d")),
    "subqueries": (
        "SELECT * FROM (SELECT * FROM sales.events) e WHERE e.id IN (SELECT id FROM sales.refunds) "
        "AND EXISTS (SELECT 1 FROM sales.flags f WHERE f.id = e.id)",
        ("sales.events", "sales.refunds", "sales.flags"),
    ),
    "schema_qualified": (
        "SELECT * FROM analytics.public.sessions s JOIN public.users u ON u.id = s.uid",
        ("analytics.public.sessions", "public.users"),
    ),
    "quoted": (
        'SELECT * FROM "My Schema"."Order Lines" JOIN "Customers" USING (id)',
        ("My Schema.Order Lines", "Customers"),
    ),
    "parameters": (
        "SELECT * FROM orders WHERE region = '{{ region }}' AND amount > {{ min_amount }} "
        "AND order_date BETWEEN '{{ period.start }}' AND '{{ period.end }}'",
        ("orders",),
    ),
    "writes": (
        "INSERT INTO reports.daily SELECT region, sum(amount) FROM orders GROUP BY region",
        ("orders", "reports.daily"),
    ),
}


@pytest.fixture
def planted(dash_emulator: Any) -> dict[str, int]:
    """One query per case (the demo's own 7 queries read ``orders``)."""
    return {name: dash_emulator.add_query(name, sql) for name, (sql, _) in CASES.items()}


@pytest.fixture
def report(client: RedashClient, pool: BoundedPool, planted: dict[str, int]) -> TablesReport:
    return find_tables(client, pool=pool)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_query_lists_exactly_its_tables(report: TablesReport, planted: dict[str, int], case: str) -> None:
    (found,) = [q for q in report.queries if q.query_id == planted[case]]

    assert found.error is None
    assert found.dialect == "postgres"  # the demo data source is a pg one
    assert set(found.tables) == set(CASES[case][1])


def test_cte_names_are_not_tables_and_writes_are_told_apart(report: TablesReport, planted: dict[str, int]) -> None:
    by_id = {q.query_id: q for q in report.queries}

    assert "recent" not in report.tables
    assert by_id[planted["writes"]].writes == ("reports.daily",)
    assert by_id[planted["writes"]].reads == ("orders",)


def test_table_to_queries_lists_every_query_of_a_table_in_id_order(
    report: TablesReport, planted: dict[str, int]
) -> None:
    assert report.tables["orders"] == [1, 2, 3, 4, 5, 6, 7, planted["cte"], planted["parameters"], planted["writes"]]
    assert report.tables["My Schema.Order Lines"] == [planted["quoted"]]
    assert [q.query_id for q in report.queries] == sorted(q.query_id for q in report.queries)


def test_a_table_named_by_a_parameter_is_listed_apart_not_invented(dash_emulator: Any, client: RedashClient) -> None:
    qid = dash_emulator.add_query("dynamic", "SELECT * FROM events_{{ day }} JOIN users ON true")

    (found,) = find_tables(client, query_ids=[qid]).queries

    assert (found.tables, found.parameter_tables) == (("users",), ("events_{{ day }}",))


def test_sql_that_does_not_parse_is_reported_with_where_never_skipped(dash_emulator: Any, client: RedashClient) -> None:
    broken = dash_emulator.add_query("broken", "SELECT id\nFROM\nWHERE amount > 3")
    fine = dash_emulator.add_query("fine", "SELECT * FROM orders")

    report = find_tables(client, query_ids=[broken, fine])

    assert [q.query_id for q in report.queries] == [broken, fine]
    (unparsed,) = report.unparsed
    assert unparsed.query_id == broken
    assert unparsed.error is not None
    assert "WHERE" in unparsed.error
    assert unparsed.error_line == 3
    assert report.to_json()["unparsed"] == [broken]


def test_each_query_is_read_in_the_dialect_of_its_data_source(dash_emulator: Any, client: RedashClient) -> None:
    bigquery = dash_emulator.objects.add_data_source("warehouse", "bigquery")
    sql = "SELECT * FROM `proj.analytics.events` e JOIN `proj.analytics.users` u ON e.uid = u.id"
    on_bigquery = dash_emulator.add_query("bq", sql, data_source_id=bigquery.id)
    on_postgres = dash_emulator.add_query("pg", sql)

    bq, pg = find_tables(client, query_ids=[on_bigquery, on_postgres]).queries

    assert (bq.dialect, bq.tables, bq.error) == ("bigquery", ("proj.analytics.events", "proj.analytics.users"), None)
    assert (pg.dialect, pg.tables) == ("postgres", ())
    assert pg.error is not None  # backticks are not PostgreSQL


def test_archived_queries_are_read_only_when_asked(client: RedashClient) -> None:
    assert 8 not in {q.query_id for q in find_tables(client).queries}
    assert 8 in {q.query_id for q in find_tables(client, archived=True).queries}
