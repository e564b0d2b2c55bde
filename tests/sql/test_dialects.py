"""Redash data source types map to the sqlglot dialect that reads their SQL."""

from __future__ import annotations

import pytest

from airflow_provider_dash.sql import DIALECTS, dialect_for


@pytest.mark.parametrize(
    ("data_source_type", "dialect"),
    [
        ("pg", "postgres"),
        ("cockroach", "postgres"),
        ("vertica", "postgres"),
        ("redshift", "redshift"),
        ("mysql", "mysql"),
        ("rds_mysql", "mysql"),
        ("bigquery", "bigquery"),
        ("snowflake", "snowflake"),
        ("mssql", "tsql"),
        ("mssql_odbc", "tsql"),
        ("presto", "presto"),
        ("trino", "trino"),
        ("athena", "athena"),
        ("clickhouse", "clickhouse"),
        ("databricks", "databricks"),
        ("hive", "hive"),
        ("impala", "hive"),
        ("sqlite", "sqlite"),
        ("results", "sqlite"),
        ("oracle", "oracle"),
        ("duckdb", "duckdb"),
    ],
)
def test_redash_type_maps_to_its_sqlglot_dialect(data_source_type: str, dialect: str) -> None:
    assert dialect_for(data_source_type) == dialect


@pytest.mark.parametrize("data_source_type", ["mongodb", "elasticsearch", "google_spreadsheets", "", "no_such_type"])
def test_type_without_a_sql_dialect_maps_to_none(data_source_type: str) -> None:
    assert dialect_for(data_source_type) is None


def test_type_name_ignores_case_and_surrounding_spaces() -> None:
    assert dialect_for(" BigQuery ") == "bigquery"


def test_every_mapped_dialect_is_one_sqlglot_knows() -> None:
    from sqlglot.dialects.dialect import Dialect

    for data_source_type, dialect in DIALECTS.items():
        assert Dialect.get_or_raise(dialect) is not None, data_source_type


def test_non_string_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="data_source_type must be a str"):
        dialect_for(1)  # type: ignore[arg-type]
