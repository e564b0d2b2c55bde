"""Which sqlglot dialect reads the SQL of each Redash data source type.

The keys are the ``type`` names Redash's query runners register (``redash/query_runner/*.py``: the
runner's ``type()``, which defaults to its class name in lower case). Only runners that take SQL a
sqlglot dialect understands are listed; every other type (MongoDB, Elasticsearch, Google Sheets,
Kusto, ... and SQL engines sqlglot has no dialect for) falls back to sqlglot's generic dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Redash data source type -> sqlglot dialect name.
DIALECTS: Mapping[str, str] = MappingProxyType(
    {
        # PostgreSQL and the engines that speak its SQL.
        "pg": "postgres",
        "cockroach": "postgres",
        # Vertica's SQL descends from PostgreSQL's (same quoting, casts and names); sqlglot has no
        # Vertica dialect, and postgres reads its queries better than the generic one.
        "vertica": "postgres",
        "redshift": "redshift",
        "redshift_iam": "redshift",
        "risingwave": "risingwave",
        # MySQL and the MySQL-compatible SingleStore (Redash still calls it MemSQL).
        "mysql": "mysql",
        "rds_mysql": "mysql",
        "memsql": "mysql",
        "bigquery": "bigquery",
        "bigquery_gce": "bigquery",
        "snowflake": "snowflake",
        "mssql": "tsql",
        "mssql_odbc": "tsql",
        "presto": "presto",
        "trino": "trino",
        "athena": "athena",
        "clickhouse": "clickhouse",
        "tinybird": "clickhouse",  # a ClickHouse service; Redash's runner subclasses ClickHouse
        "databricks": "databricks",
        "hive": "hive",
        "hive_http": "hive",
        # Impala reads HiveQL-style SQL (backticks, db.table); sqlglot has no Impala dialect.
        "impala": "hive",
        "sqlite": "sqlite",
        "results": "sqlite",  # Redash's "Query Results" source runs on an in-memory SQLite
        "d1": "sqlite",  # Cloudflare D1 is SQLite
        "oracle": "oracle",
        "duckdb": "duckdb",
        "exasol": "exasol",
        "drill": "drill",
        "druid": "druid",
        "dremio": "dremio",
    }
)


def dialect_for(data_source_type: str) -> str | None:
    """Name the sqlglot dialect for a Redash data source type.

    :param data_source_type: the data source's ``type`` as Redash reports it (``"pg"``, ``"bigquery"``,
        ...); case and surrounding spaces are ignored.
    :return: the sqlglot dialect name, or None for a type with no known dialect (then parse with the
        generic dialect).
    :raises TypeError: if ``data_source_type`` is not a string.
    """
    if not isinstance(data_source_type, str):
        raise TypeError(f"data_source_type must be a str, not {type(data_source_type).__name__}")
    return DIALECTS.get(data_source_type.strip().lower())
