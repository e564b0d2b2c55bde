"""find-tables: which tables each saved query reads and writes, parsed in its data source's SQL dialect.

The SQL goes through the one table extractor (:func:`airflow_provider_dash.sql.extract_tables`, a
sqlglot parser that knows Redash's ``{{ parameter }}`` placeholders), never a regular expression:
CTE names are not tables, schema-qualified names keep their schema, and a query that does not parse
is reported with the parser's message and position, never skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from airflow_provider_dash.hooks._redash_web import query_page_url
from airflow_provider_dash.sql import dialect_for, extract_tables
from airflow_provider_dash.tools.progress import NoProgress, Progress

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.models.redash_tools import SavedQuery
    from airflow_provider_dash.pool import BoundedPool


class QueryTables(BaseModel):
    """The tables of one saved query.

    :ivar dialect: the sqlglot dialect the SQL was read in (``None``: sqlglot's generic one, for a
        data source type it has no dialect for or a data source the key cannot see).
    :ivar reads: tables read, as written (``public.orders``), in order of first appearance.
    :ivar writes: tables created, changed or dropped.
    :ivar parameter_tables: table names made from a Redash parameter (``{{ table }}``), as written.
    :ivar error: the parser's message when the SQL does not parse (``error_line``, ``error_column``: where).
    """

    model_config = ConfigDict(frozen=True)

    query_id: int
    name: str
    url: str
    data_source_id: int | None
    dialect: str | None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    parameter_tables: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    error_line: int | None = None
    error_column: int | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table it reads or writes, each once."""
        return tuple(dict.fromkeys(self.reads + self.writes))


class TablesReport(BaseModel):
    """What find-tables found: query -> tables (``queries``, by query id) and table -> queries (``tables``)."""

    model_config = ConfigDict(frozen=True)

    queries: tuple[QueryTables, ...]

    @property
    def tables(self) -> dict[str, list[int]]:
        """Each table (sorted by name) and the ids of the queries reading or writing it (sorted)."""
        index: dict[str, set[int]] = {}
        for query in self.queries:
            for table in query.tables:
                index.setdefault(table, set()).add(query.query_id)
        return {table: sorted(index[table]) for table in sorted(index)}

    @property
    def unparsed(self) -> tuple[QueryTables, ...]:
        """The queries whose SQL did not parse."""
        return tuple(query for query in self.queries if query.error is not None)

    def to_json(self) -> dict[str, object]:
        """Both directions and the failures, as plain JSON."""
        return {
            "tables": self.tables,
            "queries": [query.model_dump(mode="json") for query in self.queries],
            "unparsed": [query.query_id for query in self.unparsed],
        }


def query_tables(query: SavedQuery, base_url: str, data_source_types: dict[int, str]) -> QueryTables:
    """Read the tables of one saved query in the dialect of its data source.

    :param data_source_types: data source id -> Redash type (``pg``, ``bigquery``...).
    :return: its tables, or the parse error.
    """
    source_type = data_source_types.get(query.data_source_id) if query.data_source_id is not None else None
    dialect = dialect_for(source_type) if source_type else None
    found = extract_tables(query.query, dialect)
    return QueryTables(
        query_id=query.id,
        name=query.name,
        url=query_page_url(base_url, query.id),
        data_source_id=query.data_source_id,
        dialect=dialect,
        reads=tuple(t.qualified for t in found.reads),
        writes=tuple(t.qualified for t in found.writes),
        parameter_tables=tuple(t.qualified for t in found.parameter_tables),
        warnings=found.warnings,
        error=found.error,
        error_line=found.error_line,
        error_column=found.error_column,
    )


def find_tables(
    client: RedashClient,
    *,
    query_ids: Iterable[int] | None = None,
    archived: bool = False,
    pool: BoundedPool | None = None,
    progress: Progress | None = None,
) -> TablesReport:
    """Find the tables of every saved query (or of ``query_ids``).

    :param query_ids: only these queries (each fetched by id; archived or not).
    :param archived: also read the archived queries (when listing every query).
    :param pool: list pages and fetch queries through it (concurrently, output in id order).
    :return: the report, queries in id order; queries that do not parse are in it with their error.
    :raises DashError: when the server cannot be read (a query id that does not exist included).
    """
    progress = progress or NoProgress()
    types = {source.id: source.type for source in client.list_data_source_objects()}
    base_url = client.config.base_url
    ids = sorted(set(query_ids)) if query_ids is not None else None
    found: list[QueryTables] = []
    progress.begin("Reading the SQL of each query", len(ids) if ids is not None else None)
    for query in _queries(client, ids, archived, pool):
        found.append(query_tables(query, base_url, types))
        progress.advance()
    return TablesReport(queries=tuple(sorted(found, key=lambda q: q.query_id)))


def _queries(
    client: RedashClient, ids: list[int] | None, archived: bool, pool: BoundedPool | None
) -> Iterator[SavedQuery]:
    if ids is not None:
        if pool is None:
            yield from (client.get_saved_query(qid) for qid in ids)
        else:
            client.ensure_connections(pool.workers)
            yield from pool.map_ordered(client.get_saved_query, ids)
        return
    yield from client.iter_saved_queries(pool=pool)
    if archived:
        yield from client.iter_saved_queries(archived=True, pool=pool)
