"""OpenLineage names of the tables a Redash query reads, from its data source's type and options.

Each Redash data source type that OpenLineage's naming spec (openlineage.io/docs/spec/naming) has a
scheme for gets the spec's namespace and name, the parts the SQL does not write filled from the
data source's options and the database's default schema::

    pg        postgres://{host}:{port}                   {dbname}.{schema, public}.{table}
    redshift  redshift://{cluster}.{region}:{port}       {dbname}.{schema, public}.{table}
    mysql     mysql://{host}:{port}                      {db}.{table}
    mssql     sqlserver://{server}:{port}                {db}.{schema, dbo}.{table}
    bigquery  bigquery                                   {project}.{dataset}.{table}
    snowflake snowflake://{account}                      {database}.{schema, PUBLIC}.{table}
    trino     trino://{host}:{port}                      {catalog}.{schema}.{table}
    athena    awsathena://athena.{region}.amazonaws.com  {catalog, AwsDataCatalog}.{schema, default}.{table}
    oracle    oracle://{host}:{port}                     {servicename}.{schema, USER}.{table}
    hive      hive://{host}:{port}                       {database, default}.{table}
    db2       db2://{host}:{port}                        {dbname}.{schema, USER}.{table}

Every other type (ClickHouse, Presto, Databricks, SQLite, ... which the spec does not name), and
every data source whose options the key cannot read (a non-admin user's key: Redash shows options
to admins only), is named by the Redash data source instead: namespace ``redash://host[:port]``,
name ``[org/]data_sources/<id>/<table as written>``. Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_dash.lineage.redash_assets import SCHEME, server_of
from airflow_provider_dash.sql import TableRef

# <cluster>.<unique id>.<region>.redshift.amazonaws.com, as Redshift names its endpoints.
_REDSHIFT_HOST = re.compile(
    r"^(?P<cluster>[^.]+)\.[^.]+\.(?P<region>[a-z0-9-]+)\.redshift(-serverless)?\.amazonaws\.com$"
)


@dataclass(frozen=True)
class DatasetName:
    """An OpenLineage dataset's identity.

    :param namespace: the data store (``postgres://db.example.com:5432``).
    :param name: the table in it (``sales.public.orders``).
    :param fully_named: True when named by the database's own scheme, False when named by the
        Redash data source (options not readable, or a type the spec does not name).
    """

    namespace: str
    name: str
    fully_named: bool


def _opt(options: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = options.get(key)
        if value not in (None, "") and not isinstance(value, bool):
            return str(value)
    return None


def _join(*parts: str | None) -> str | None:
    """Dot-join the parts, or None when one is missing (the name cannot be complete)."""
    if any(p is None or p == "" for p in parts):
        return None
    return ".".join(p for p in parts if p is not None)


_Rule = Callable[[Mapping[str, Any], TableRef], tuple[str, str | None] | None]


def _server(o: Mapping[str, Any], scheme: str, default_port: int, host_keys: tuple[str, ...] = ("host",)) -> str | None:
    """The namespace ``scheme://host:port`` (the port defaulted), or None when the options name no host."""
    host = _opt(o, *host_keys)
    return None if host is None else f"{scheme}://{host}:{_opt(o, 'port') or default_port}"


def _named(namespace: str | None, name: str | None) -> tuple[str, str | None] | None:
    """A rule's answer: None when the namespace is unknown (the data source then names the table)."""
    return None if namespace is None else (namespace, name)


def _user_schema(o: Mapping[str, Any]) -> str | None:
    """Oracle's and DB2's default schema: the user's name, in capitals."""
    user = _opt(o, "user")
    return user.upper() if user else None


def _postgres(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    return _named(_server(o, "postgres", 5432), _join(t.catalog or _opt(o, "dbname"), t.schema or "public", t.name))


def _redshift(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    host = _opt(o, "host")
    if host is None:
        return None
    port = _opt(o, "port") or 5439
    match = _REDSHIFT_HOST.match(host.lower())
    authority = f"{match['cluster']}.{match['region']}" if match else host
    return f"redshift://{authority}:{port}", _join(t.catalog or _opt(o, "dbname"), t.schema or "public", t.name)


def _mysql(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    # MySQL has no schemas: ``a.b`` is database a, table b.
    return _named(_server(o, "mysql", 3306), _join(t.schema or _opt(o, "db"), t.name))


def _sqlserver(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    namespace = _server(o, "sqlserver", 1433, host_keys=("server", "host"))
    return _named(namespace, _join(t.catalog or _opt(o, "db"), t.schema or "dbo", t.name))


def _bigquery(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    project = t.catalog or _opt(o, "projectId")
    return None if project is None else ("bigquery", _join(project, t.schema, t.name))


def _snowflake(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    account = _opt(o, "account")
    if account is None:
        return None
    account = account.lower()
    region = (_opt(o, "region") or "").lower()
    if region and region not in account:
        account = f"{account}.{region}"
    return f"snowflake://{account}", _join(t.catalog or _opt(o, "database"), t.schema or "PUBLIC", t.name)


def _trino(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    namespace = _server(o, "trino", 8080)
    return _named(namespace, _join(t.catalog or _opt(o, "catalog"), t.schema or _opt(o, "schema"), t.name))


def _athena(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    region = _opt(o, "region")
    namespace = None if region is None else f"awsathena://athena.{region}.amazonaws.com"
    return _named(namespace, _join(t.catalog or "AwsDataCatalog", t.schema or _opt(o, "schema") or "default", t.name))


def _oracle(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    namespace = _server(o, "oracle", 1521)
    return _named(namespace, _join(_opt(o, "servicename", "dsn"), t.schema or _user_schema(o), t.name))


def _hive(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    return _named(_server(o, "hive", 10000), _join(t.schema or _opt(o, "database") or "default", t.name))


def _db2(o: Mapping[str, Any], t: TableRef) -> tuple[str, str | None] | None:
    namespace = _server(o, "db2", 50000)
    return _named(namespace, _join(t.catalog or _opt(o, "dbname"), t.schema or _user_schema(o), t.name))


#: Redash data source type -> how OpenLineage names its tables.
RULES: Mapping[str, _Rule] = {
    "pg": _postgres,
    "redshift": _redshift,
    "redshift_iam": _redshift,
    "mysql": _mysql,
    "rds_mysql": _mysql,
    "mssql": _sqlserver,
    "mssql_odbc": _sqlserver,
    "bigquery": _bigquery,
    "snowflake": _snowflake,
    "trino": _trino,
    "athena": _athena,
    "oracle": _oracle,
    "hive": _hive,
    "hive_http": _hive,
    "db2": _db2,
}


def is_named_by_openlineage(data_source_type: str) -> bool:
    """True when OpenLineage's naming spec has a scheme for this Redash data source type."""
    return data_source_type.strip().lower() in RULES


def data_source_dataset(base_url: str, data_source_id: int, table: TableRef) -> DatasetName:
    """The fallback name of ``table``: by the Redash data source (``redash://host/data_sources/<id>/...``)."""
    netloc, org = server_of(base_url)
    prefix = f"{org}/" if org else ""
    return DatasetName(f"{SCHEME}://{netloc}", f"{prefix}data_sources/{int(data_source_id)}/{table.qualified}", False)


def table_dataset(
    base_url: str,
    data_source_id: int,
    data_source_type: str,
    options: Mapping[str, Any] | None,
    table: TableRef,
) -> DatasetName:
    """Name one table a query reads, the OpenLineage way when the options allow it.

    :param base_url: the Redash server (for the fallback name).
    :param data_source_id: the query's data source.
    :param data_source_type: its Redash type (``pg``...).
    :param options: its options, or ``None`` when the key may not read them.
    :param table: the table as the SQL names it.
    :return: the dataset's name; ``fully_named`` False when it fell back to the data source.
    """
    rule = RULES.get(data_source_type.strip().lower())
    if rule is not None and options is not None:
        named = rule(options, table)
        if named is not None and named[1] is not None:
            return DatasetName(named[0], named[1], True)
    return data_source_dataset(base_url, data_source_id, table)
