"""Dataset names of the tables a query reads, per Redash data source type, and the fallback."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashResponseError
from airflow_provider_dash.lineage.redash import file_dataset_name
from airflow_provider_dash.lineage.redash_naming import table_dataset
from airflow_provider_dash.models.redash_data_sources import DataSource
from airflow_provider_dash.sql import TableRef

BASE = "https://redash.example.com/acme"


def _t(qualified: str) -> TableRef:
    parts = qualified.split(".")
    parts = [None] * (3 - len(parts)) + parts  # type: ignore[list-item]
    return TableRef(parts[0], parts[1], parts[2])


@pytest.mark.parametrize(
    ("kind", "options", "table", "namespace", "name"),
    [
        ("pg", {"host": "db", "port": 5433, "dbname": "sales"}, "orders", "postgres://db:5433", "sales.public.orders"),
        ("pg", {"host": "db", "dbname": "sales"}, "mart.orders", "postgres://db:5432", "sales.mart.orders"),
        ("pg", {"host": "db", "dbname": "sales"}, "other.mart.orders", "postgres://db:5432", "other.mart.orders"),
        (
            "redshift",
            {"host": "analytics.abc123.eu-west-1.redshift.amazonaws.com", "port": 5439, "dbname": "dev"},
            "events",
            "redshift://analytics.eu-west-1:5439",
            "dev.public.events",
        ),
        ("mysql", {"host": "my", "db": "shop"}, "orders", "mysql://my:3306", "shop.orders"),
        ("mysql", {"host": "my", "db": "shop"}, "crm.users", "mysql://my:3306", "crm.users"),
        ("mssql", {"server": "sql", "port": 1444, "db": "erp"}, "invoices", "sqlserver://sql:1444", "erp.dbo.invoices"),
        ("bigquery", {"projectId": "proj"}, "ds.events", "bigquery", "proj.ds.events"),
        ("snowflake", {"account": "ACME-Prod", "database": "DW"}, "facts", "snowflake://acme-prod", "DW.PUBLIC.facts"),
        (
            "trino",
            {"host": "tr", "port": 8443, "catalog": "hive", "schema": "web"},
            "hits",
            "trino://tr:8443",
            "hive.web.hits",
        ),
        (
            "athena",
            {"region": "us-east-1"},
            "logs",
            "awsathena://athena.us-east-1.amazonaws.com",
            "AwsDataCatalog.default.logs",
        ),
        (
            "oracle",
            {"host": "ora", "servicename": "ORCL", "user": "scott"},
            "emp",
            "oracle://ora:1521",
            "ORCL.SCOTT.emp",
        ),
        ("hive", {"host": "hv", "database": "raw"}, "clicks", "hive://hv:10000", "raw.clicks"),
        ("db2", {"host": "d2", "dbname": "BANK", "user": "app"}, "accounts", "db2://d2:50000", "BANK.APP.accounts"),
    ],
)
def test_types_openlineage_names_get_its_namespace_and_a_complete_name(
    kind: str, options: dict[str, Any], table: str, namespace: str, name: str
) -> None:
    named = table_dataset(BASE, 1, kind, options, _t(table))

    assert (named.namespace, named.name, named.fully_named) == (namespace, name, True)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("pg", None),  # a plain user's key: no options
        ("clickhouse", {"url": "http://ch:8123", "dbname": "web"}),  # no OpenLineage scheme
        ("bigquery", {"projectId": "proj"}),  # no dataset written: the name cannot be complete
        ("pg", {"dbname": "sales"}),  # no host
    ],
)
def test_otherwise_the_table_is_named_by_the_redash_data_source(kind: str, options: dict[str, Any] | None) -> None:
    named = table_dataset(BASE, 4, kind, options, _t("events"))

    assert (named.namespace, named.name, named.fully_named) == (
        "redash://redash.example.com",
        "acme/data_sources/4/events",
        False,
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/tmp/out/x.csv", ("file", "/tmp/out/x.csv")),
        ("file:///tmp/out/x.csv", ("file", "/tmp/out/x.csv")),
        ("s3://aws_conn@bucket/exports/x.csv", ("s3://bucket", "exports/x.csv")),
        ("gs://bucket/x.csv", ("gs://bucket", "x.csv")),
    ],
)
def test_an_exported_file_is_named_as_openlineage_names_files(path: str, expected: tuple[str, str]) -> None:
    assert file_dataset_name(path) == expected


def test_a_data_source_without_options_parses_and_a_bad_one_names_the_field() -> None:
    plain = DataSource.from_json({"id": 1, "name": "sample", "type": "pg", "syntax": "sql", "view_only": False})
    assert (plain.options, plain.options_visible) == (None, False)

    with pytest.raises(DashResponseError, match=r"data source 1 has a bad field 'type'"):
        DataSource.from_json({"id": 1, "name": "sample", "type": None})
    with pytest.raises(DashResponseError, match="not a JSON object"):
        DataSource.from_json([])
