"""Redash's Mustache placeholders never stop the parse, and a table named by one is reported as such."""

from __future__ import annotations

import pytest

from airflow_provider_dash.sql import TableRef, extract_tables
from airflow_provider_dash.sql.placeholders import MaskedSql

from .extracted import parsed, reads


@pytest.mark.parametrize(
    "condition",
    [
        "created_at >= '{{ date }}'",
        "created_at >= '{{date}}'",
        "created_at BETWEEN '{{ period.start }}' AND '{{ period.end }}'",
        "id = {{ id }}",
        "id = {{id}}",
        "status IN ({{ statuses }})",
        "name = '{{{ raw_name }}}'",
        "name = {{& unescaped }}",
        "created_at > now() - interval '{{ days }} days'",
        "{{ extra_condition }}",
    ],
)
def test_value_placeholder_does_not_stop_the_parse(condition: str) -> None:
    assert reads(f"SELECT * FROM orders WHERE {condition} LIMIT {{{{ limit }}}}", "postgres") == ["orders"]


def test_placeholder_where_only_a_number_fits_does_not_stop_the_parse() -> None:
    assert reads("SELECT TOP {{ n }} * FROM dbo.orders", "tsql") == ["dbo.orders"]


def test_placeholder_where_only_a_keyword_fits_does_not_stop_the_parse() -> None:
    assert reads("SELECT * FROM orders ORDER BY {{ column }} {{ direction }}", "postgres") == ["orders"]


def test_table_named_by_a_placeholder_is_a_parameter_not_a_table() -> None:
    result = parsed("SELECT * FROM {{ table }} t JOIN users u ON u.id = t.user_id")
    assert [t.qualified for t in result.reads] == ["users"]
    assert result.parameter_tables == (TableRef(None, None, "{{ table }}"),)


def test_schema_or_name_part_from_a_placeholder_makes_a_parameter_table() -> None:
    result = parsed("SELECT * FROM {{ schema }}.orders JOIN analytics.events_{{ day }} ON 1 = 1", "postgres")
    assert result.reads == ()
    assert [t.qualified for t in result.parameter_tables] == ["{{ schema }}.orders", "analytics.events_{{ day }}"]


def test_bigquery_sharded_table_from_a_placeholder_inside_backticks() -> None:
    result = parsed("SELECT * FROM `proj.dataset.events_{{ day }}`", "bigquery")
    assert result.parameter_tables == (TableRef("proj", "dataset", "events_{{ day }}"),)


def test_insert_target_from_a_placeholder_is_a_parameter_table() -> None:
    result = parsed("INSERT INTO {{ target }} SELECT * FROM staging")
    assert result.writes == ()
    assert [t.qualified for t in result.parameter_tables] == ["{{ target }}"]


def test_mustache_section_tags_are_dropped_and_the_sql_between_them_kept() -> None:
    sql = "SELECT a {{#with_b}}, b{{/with_b}} {{^with_b}}, c{{/with_b}} FROM t {{! a comment }} JOIN u ON 1 = 1"
    assert reads(sql) == ["t", "u"]


def test_mustache_section_tags_are_never_taken_for_a_parameter_table() -> None:
    result = parsed("SELECT * FROM {{#archived}}orders{{/archived}}")
    assert [t.qualified for t in result.reads] == ["orders"]
    assert result.parameter_tables == ()


def test_author_text_like_a_sentinel_is_never_taken_for_a_placeholder() -> None:
    # Spelled like the sentinels `{{ table }}` would get with the first two prefixes: the prefix is
    # chosen among those absent from the text, so these stay real tables.
    lookalikes = ["zq0" + "_" * 8, "qz0" + "_" * 8]
    result = parsed(f"SELECT * FROM {lookalikes[0]} JOIN {lookalikes[1]} ON 1 = 1 JOIN {{{{ table }}}} ON 1 = 1")
    assert [t.qualified for t in result.reads] == lookalikes
    assert [t.qualified for t in result.parameter_tables] == ["{{ table }}"]


def test_masking_keeps_every_offset_and_line_break() -> None:
    sql = "SELECT {{ a }}, '{{b}}'\nFROM {{\n table \n}} WHERE x = {{{ c }}} {{#s}}1{{/s}}"
    masked = MaskedSql.of(sql).text
    assert len(masked) == len(sql)
    assert [i for i, ch in enumerate(masked) if ch == "\n"][:1] == [sql.index("\n")]
    assert masked.count("\n") == sql.count("\n")
    assert "{" not in masked
    assert "}" not in masked


def test_error_after_placeholders_points_at_the_original_column() -> None:
    sql = "SELECT * FROM t WHERE a = '{{ a_long_parameter_name }}' AND b = {{ b }} AND (c = 1"
    result = extract_tables(sql)
    assert not result.ok
    assert result.error_line == 1
    assert result.error_column == sql.index("1") + 1
