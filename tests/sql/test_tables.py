"""Which tables a SQL text reads and writes: CTEs, joins, subqueries, names, statements, dialects."""

from __future__ import annotations

import pytest

from airflow_provider_dash.sql import TableRef, extract_tables

from .extracted import parsed, reads, writes

# -- CTEs ------------------------------------------------------------------------------------------


def test_cte_names_are_not_tables() -> None:
    sql = """
        WITH paid AS (SELECT * FROM payments WHERE status = 'paid'),
             totals AS (SELECT user_id, SUM(amount) AS total FROM paid GROUP BY 1)
        SELECT * FROM totals JOIN users ON users.id = totals.user_id
    """
    assert reads(sql) == ["payments", "users"]


def test_cte_shadowing_a_table_reads_the_table_in_its_own_body() -> None:
    sql = "WITH orders AS (SELECT * FROM orders WHERE deleted_at IS NULL) SELECT * FROM orders"
    assert reads(sql) == ["orders"]


def test_cte_shadowing_a_table_hides_it_in_the_statement_body() -> None:
    sql = "WITH orders AS (SELECT * FROM archive.orders) SELECT * FROM orders JOIN orders o2 ON 1 = 1"
    assert reads(sql) == ["archive.orders"]


def test_recursive_cte_is_not_a_table_in_its_own_body() -> None:
    sql = """
        WITH RECURSIVE tree (id, parent_id) AS (
            SELECT id, parent_id FROM categories WHERE parent_id IS NULL
            UNION ALL
            SELECT c.id, c.parent_id FROM categories c JOIN tree t ON c.parent_id = t.id
        )
        SELECT * FROM tree
    """
    assert reads(sql, "postgres") == ["categories"]


@pytest.mark.parametrize("dialect", ["tsql", "oracle", "snowflake"])
def test_cte_naming_itself_is_recursive_without_keyword_where_the_dialect_says_so(dialect: str) -> None:
    sql = "WITH n (i) AS (SELECT 1 FROM seed UNION ALL SELECT i + 1 FROM n WHERE i < 9) SELECT i FROM n"
    assert reads(sql, dialect) == ["seed"]


def test_cte_naming_itself_without_recursive_reads_the_table_in_postgres() -> None:
    sql = "WITH n AS (SELECT * FROM n WHERE i < 9) SELECT * FROM n"
    assert reads(sql, "postgres") == ["n"]


def test_cte_is_not_visible_to_the_ctes_before_it() -> None:
    sql = "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM c) SELECT * FROM a JOIN b ON 1 = 1"
    assert reads(sql) == ["b", "c"]


def test_cte_inside_a_subquery_is_not_visible_outside_it() -> None:
    sql = "SELECT * FROM (WITH x AS (SELECT * FROM t) SELECT * FROM x) s JOIN x ON s.id = x.id"
    assert reads(sql) == ["t", "x"]


def test_cte_reference_matches_regardless_of_case() -> None:
    assert reads("WITH Recent AS (SELECT * FROM events) SELECT * FROM RECENT") == ["events"]


def test_qualified_name_never_refers_to_a_cte() -> None:
    assert reads("WITH orders AS (SELECT 1 AS id) SELECT * FROM shop.orders") == ["shop.orders"]


# -- joins and subqueries ----------------------------------------------------------------------------


def test_every_joined_table_is_read() -> None:
    sql = """
        SELECT * FROM orders o
        JOIN customers c ON c.id = o.customer_id
        LEFT JOIN payments p USING (order_id)
        CROSS JOIN regions, currencies
        FULL OUTER JOIN refunds r ON r.order_id = o.id
    """
    assert reads(sql) == ["orders", "customers", "payments", "regions", "currencies", "refunds"]


def test_self_join_lists_the_table_once() -> None:
    assert reads("SELECT * FROM staff a JOIN staff b ON a.manager_id = b.id") == ["staff"]


def test_table_in_a_from_subquery_is_read() -> None:
    sql = "SELECT s.n FROM (SELECT COUNT(*) AS n FROM (SELECT * FROM events) inner_q) s"
    assert reads(sql) == ["events"]


def test_tables_in_where_in_and_exists_subqueries_are_read() -> None:
    sql = """
        SELECT * FROM users u
        WHERE u.id IN (SELECT user_id FROM orders)
          AND EXISTS (SELECT 1 FROM logins l WHERE l.user_id = u.id)
          AND NOT EXISTS (SELECT 1 FROM bans b WHERE b.user_id = u.id)
    """
    assert reads(sql) == ["users", "orders", "logins", "bans"]


def test_table_in_a_scalar_subquery_is_read() -> None:
    assert reads("SELECT id, (SELECT MAX(amount) FROM payments) AS top FROM users") == ["payments", "users"]


def test_long_or_chain_does_not_exhaust_the_stack() -> None:
    conditions = " OR ".join(f"x = {i}" for i in range(3000))
    assert reads(f"SELECT * FROM t WHERE {conditions} AND y IN (SELECT y FROM u)") == ["t", "u"]


def test_tables_of_every_branch_of_a_union_are_read() -> None:
    assert reads("SELECT id FROM a UNION SELECT id FROM b EXCEPT SELECT id FROM c") == ["a", "b", "c"]


# -- names -------------------------------------------------------------------------------------------


def test_schema_qualified_name_keeps_its_schema() -> None:
    assert parsed("SELECT * FROM analytics.events").reads == (TableRef(None, "analytics", "events"),)


def test_catalog_schema_table_name_keeps_all_three_parts() -> None:
    result = parsed("SELECT * FROM hive.sales.orders", "trino")
    assert result.reads == (TableRef("hive", "sales", "orders"),)
    assert result.reads[0].qualified == "hive.sales.orders"


def test_double_quoted_names_are_unquoted() -> None:
    result = parsed('SELECT * FROM "My Schema"."Order ""Items"""', "postgres")
    assert result.reads == (TableRef(None, "My Schema", 'Order "Items"'),)


def test_backticked_names_are_unquoted_in_mysql() -> None:
    assert reads("SELECT * FROM `shop db`.`order-items`", "mysql") == ["shop db.order-items"]


def test_bracketed_names_are_unquoted_in_tsql() -> None:
    result = parsed("SELECT * FROM [Sales DB].[dbo].[Order Items] WITH (NOLOCK)", "tsql")
    assert result.reads == (TableRef("Sales DB", "dbo", "Order Items"),)


def test_name_with_more_than_three_parts_keeps_the_leading_parts_as_catalog() -> None:
    result = parsed("SELECT * FROM linked_server.sales.dbo.orders", "tsql")
    assert result.reads == (TableRef("linked_server.sales", "dbo", "orders"),)


def test_names_keep_their_case_and_differing_case_is_not_merged() -> None:
    assert reads('SELECT * FROM Orders JOIN orders ON 1 = 1 JOIN "Orders" ON 1 = 1', "postgres") == [
        "Orders",
        "orders",
    ]


def test_tables_are_listed_once_in_order_of_first_appearance() -> None:
    sql = "SELECT * FROM b JOIN a ON 1 = 1 WHERE x IN (SELECT x FROM b) AND y IN (SELECT y FROM c JOIN a ON 1 = 1)"
    assert reads(sql) == ["b", "a", "c"]


def test_order_is_the_texts_even_where_the_parse_tree_differs() -> None:
    # sqlglot keeps LIMIT before FROM in its tree.
    assert reads("SELECT * FROM a LIMIT (SELECT n FROM b)", "postgres") == ["a", "b"]


# -- statements and comments ---------------------------------------------------------------------------


def test_every_statement_counts() -> None:
    assert reads("SELECT * FROM a; SELECT * FROM b;\nSELECT * FROM c") == ["a", "b", "c"]


def test_tables_in_comments_are_ignored() -> None:
    sql = """
        -- SELECT * FROM old_orders
        /* was: FROM legacy.payments */
        SELECT * FROM orders  -- JOIN customers
    """
    assert reads(sql) == ["orders"]


@pytest.mark.parametrize("sql", ["", "   ", " ; ; ", "-- nothing but a comment", "/* and another */"])
def test_text_without_statements_reads_nothing(sql: str) -> None:
    result = parsed(sql)
    assert result.reads == result.writes == ()


def test_use_names_a_database_not_a_table() -> None:
    assert reads("USE analytics; SELECT * FROM events", "mysql") == ["events"]


# -- writes --------------------------------------------------------------------------------------------


def test_insert_select_writes_the_target_and_reads_the_source() -> None:
    result = parsed("INSERT INTO mart.daily (day, n) SELECT day, COUNT(*) FROM raw.events GROUP BY 1")
    assert [t.qualified for t in result.writes] == ["mart.daily"]
    assert [t.qualified for t in result.reads] == ["raw.events"]


def test_insert_selecting_from_its_own_target_reads_and_writes_it() -> None:
    result = parsed("INSERT INTO t SELECT * FROM t WHERE id > 10")
    assert [t.qualified for t in result.writes] == ["t"]
    assert [t.qualified for t in result.reads] == ["t"]


def test_insert_with_cte_reads_the_cte_sources() -> None:
    sql = "WITH src AS (SELECT * FROM staging.rows) INSERT INTO final SELECT * FROM src"
    assert (reads(sql, "postgres"), writes(sql, "postgres")) == (["staging.rows"], ["final"])


def test_create_table_as_writes_the_new_table() -> None:
    sql = "CREATE TABLE mart.users AS SELECT * FROM raw.users"
    assert (reads(sql), writes(sql)) == (["raw.users"], ["mart.users"])


def test_create_view_writes_the_view() -> None:
    assert writes("CREATE OR REPLACE VIEW v_orders AS SELECT * FROM orders") == ["v_orders"]


def test_update_writes_its_target_and_reads_the_other_tables() -> None:
    sql = "UPDATE a SET x = b.x FROM b WHERE a.id = b.id AND b.id IN (SELECT id FROM c)"
    assert (reads(sql, "postgres"), writes(sql, "postgres")) == (["b", "c"], ["a"])


def test_mysql_update_with_join_writes_its_target_and_reads_the_joined_table() -> None:
    sql = "UPDATE a JOIN b ON a.id = b.id SET a.x = b.x"
    assert (reads(sql, "mysql"), writes(sql, "mysql")) == (["b"], ["a"])


def test_delete_writes_its_target_and_reads_its_subquery_tables() -> None:
    sql = "DELETE FROM sessions WHERE user_id IN (SELECT id FROM banned_users)"
    assert (reads(sql), writes(sql)) == (["banned_users"], ["sessions"])


def test_mysql_multi_table_delete_writes_the_tables_its_aliases_name() -> None:
    sql = "DELETE o FROM orders AS o JOIN bans AS b ON b.user_id = o.user_id"
    assert (reads(sql, "mysql"), writes(sql, "mysql")) == (["orders", "bans"], ["orders"])


def test_merge_writes_its_target_and_reads_its_source() -> None:
    sql = """
        MERGE INTO dim.customers t USING (SELECT * FROM staging.customers) s ON t.id = s.id
        WHEN MATCHED THEN UPDATE SET name = s.name
        WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)
    """
    assert (reads(sql, "snowflake"), writes(sql, "snowflake")) == (["staging.customers"], ["dim.customers"])


def test_select_into_writes_the_new_table() -> None:
    sql = "SELECT * INTO archive_2024 FROM orders"
    assert (reads(sql, "postgres"), writes(sql, "postgres")) == (["orders"], ["archive_2024"])


def test_truncate_drop_and_alter_write_their_tables() -> None:
    sql = "TRUNCATE TABLE a; DROP TABLE b; ALTER TABLE c ADD COLUMN x INT"
    assert writes(sql, "postgres") == ["a", "b", "c"]


def test_create_and_drop_schema_name_no_table() -> None:
    result = parsed("CREATE SCHEMA scratch; DROP SCHEMA old_scratch", "postgres")
    assert result.reads == result.writes == ()


def test_temporary_tables_the_sql_makes_are_neither_read_nor_written() -> None:
    sql = """
        CREATE TEMP TABLE recent AS SELECT * FROM events WHERE day > current_date - 7;
        INSERT INTO recent SELECT * FROM late_events;
        SELECT * FROM recent JOIN users ON users.id = recent.user_id;
        DROP TABLE recent;
    """
    result = parsed(sql, "postgres")
    assert [t.qualified for t in result.reads] == ["events", "late_events", "users"]
    assert result.writes == ()


def test_tsql_hash_temp_tables_are_not_tables() -> None:
    sql = "SELECT * INTO #recent FROM dbo.events; SELECT * FROM #recent JOIN ##shared ON 1 = 1"
    result = parsed(sql, "tsql")
    assert [t.qualified for t in result.reads] == ["dbo.events"]
    assert result.writes == ()


# -- what is not a table --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT * FROM generate_series(1, 10) AS g(n)", "postgres"),
        ("SELECT * FROM numbers(10)", "clickhouse"),
        ("SELECT * FROM read_csv('data.csv')", "duckdb"),
        ("SELECT * FROM TABLE(GENERATOR(ROWCOUNT => 10))", "snowflake"),
    ],
)
def test_table_functions_are_not_tables(sql: str, dialect: str) -> None:
    assert reads(sql, dialect) == []


def test_values_are_not_tables() -> None:
    assert reads("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name) JOIN t ON t.id = v.id") == ["t"]


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT * FROM orders o, unnest(o.items) AS item", "postgres"),
        ("SELECT * FROM orders o CROSS JOIN UNNEST(o.items) AS t(item)", "trino"),
        ("SELECT * FROM `p.d.orders` o, UNNEST(o.items) AS item", "bigquery"),
        ("SELECT * FROM p.d.orders o, o.items AS item", "bigquery"),
    ],
)
def test_unnest_is_not_a_table(sql: str, dialect: str) -> None:
    assert len(reads(sql, dialect)) == 1


def test_subquery_inside_a_table_function_is_read() -> None:
    assert reads("SELECT * FROM generate_series(1, (SELECT MAX(n) FROM limits)) AS g(i)", "postgres") == ["limits"]


def test_subquery_inside_unnest_is_read() -> None:
    assert reads("SELECT * FROM unnest(ARRAY(SELECT id FROM users)) AS u(id)", "postgres") == ["users"]


def test_duckdb_file_path_is_not_a_table() -> None:
    assert reads("SELECT * FROM 'events.parquet' e JOIN \"users\" u ON u.id = e.user_id", "duckdb") == ["users"]


@pytest.mark.parametrize("dialect", ["oracle", "mysql"])
def test_dual_is_not_a_table_where_it_is_built_in(dialect: str) -> None:
    assert reads("SELECT 1 FROM DUAL", dialect) == []


def test_dual_is_an_ordinary_table_elsewhere() -> None:
    assert reads("SELECT 1 FROM dual", "postgres") == ["dual"]


# -- dialect-specific syntax ---------------------------------------------------------------------------


def test_bigquery_backticked_project_dataset_table_is_split_into_parts() -> None:
    result = parsed("SELECT * FROM `my-project.analytics.events` JOIN `my-project`.crm.`users` ON 1 = 1", "bigquery")
    assert result.reads == (
        TableRef("my-project", "analytics", "events"),
        TableRef("my-project", "crm", "users"),
    )


def test_snowflake_database_schema_table_with_lateral_flatten_and_stage() -> None:
    sql = """
        SELECT f.value FROM raw_db.public.orders o,
            LATERAL FLATTEN(input => o.items) f
        UNION ALL
        SELECT $1 FROM @raw_db.public.my_stage/2024/
    """
    assert reads(sql, "snowflake") == ["raw_db.public.orders"]


def test_clickhouse_final_array_join_and_table_function() -> None:
    sql = """
        SELECT e.user_id, tag FROM analytics.events AS e FINAL
        ARRAY JOIN e.tags AS tag
        JOIN numbers(3) AS n ON n.number = e.kind
        WHERE e.day >= today() - 7
    """
    assert reads(sql, "clickhouse") == ["analytics.events"]


def test_hive_lateral_view_explode_is_not_a_table() -> None:
    assert reads("SELECT o.id, item FROM sales.orders o LATERAL VIEW explode(o.items) x AS item", "hive") == [
        "sales.orders"
    ]


def test_databricks_backticked_catalog_schema_table_with_time_travel() -> None:
    assert reads("SELECT * FROM `main`.`sales`.`orders` VERSION AS OF 3", "databricks") == ["main.sales.orders"]


def test_dialect_argument_decides_how_the_text_is_read() -> None:
    sql = "SELECT * FROM [Order Items]"
    assert reads(sql, "tsql") == ["Order Items"]
    assert not extract_tables(sql, "postgres").ok
