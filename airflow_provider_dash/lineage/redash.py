"""OpenLineage facets of the Redash tasks: the tables a query reads, the result it produced, the run.

Built from what a task recorded while it ran (:class:`QueryRunFacts`) and what the server says
about the query (its SQL and data source) and its result (columns, rows). Imported only when the
OpenLineage listener asks a task for its facets; it imports the OpenLineage provider.

* **inputs**: the tables the query's SQL reads, parsed with the one table extractor
  (:mod:`airflow_provider_dash.sql`, as ``find-tables`` does), named by
  :mod:`.redash_naming` (OpenLineage's naming of the data source's database, or the Redash data
  source when the key cannot read its options: then the task logs once how to get full names);
* **outputs**: the query result, dataset ``redash://host[:port]`` / ``[org/]queries/<id>`` with
  the schema (columns and types), the row count and the result id as its version; tables the SQL
  writes, if any;
* **job facets**: ``sql`` (the query text), ``sourceCodeLocation`` (the query's page);
* **run facets**: ``externalQuery`` (the Redash job id) and ``redash`` (job and result ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_dash.exceptions import DashError
from airflow_provider_dash.lineage.redash_assets import SCHEME, object_ref, server_of
from airflow_provider_dash.lineage.redash_naming import DatasetName, table_dataset
from airflow_provider_dash.links import dashboard_page_url, query_page_url

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_dash.hooks.redash import DashHook
    from airflow_provider_dash.models import Query, QueryResult
    from airflow_provider_dash.models.redash_data_sources import DataSource

log = logging.getLogger(__name__)

# (server, data source id) already explained in this process: the hint is logged once.
_hinted: set[tuple[str, int]] = set()

#: Redash leaves ``type`` null for text columns (recording surprise 15).
_TEXT_TYPE = "string"


@dataclass(frozen=True)
class QueryRunFacts:
    """What a task knows about one query run it made.

    :param query_id: the saved query.
    :param job_id: the Redash job (``None`` when a cached result answered at once).
    :param result_id: the result (``None`` when the run did not finish).
    """

    query_id: int
    job_id: str | None = None
    result_id: int | None = None


class _Server:
    """What one lineage build reads from the server, each thing once."""

    def __init__(self, hook: DashHook, results: Mapping[int, QueryResult]) -> None:
        self.hook = hook
        self.base_url = hook.config.base_url
        self.results = dict(results)
        self._sources: dict[int, DataSource | None] = {}

    def query(self, query_id: int) -> Query | None:
        try:
            return self.hook.get_query(query_id)
        except DashError as error:
            log.warning("Lineage: could not read query %s: %s", query_id, error)
            return None

    def result(self, query_id: int, result_id: int) -> QueryResult | None:
        if result_id not in self.results:
            try:
                self.results[result_id] = self.hook.get_query_result(result_id, query_id)
            except DashError as error:
                log.warning("Lineage: could not read result %s of query %s: %s", result_id, query_id, error)
                return None
        return self.results[result_id]

    def data_source(self, data_source_id: int) -> DataSource | None:
        if data_source_id not in self._sources:
            try:
                self._sources[data_source_id] = self.hook.get_data_source(data_source_id)
            except DashError as error:
                log.debug("Lineage: could not read data source %s: %s", data_source_id, error)
                self._sources[data_source_id] = None
        return self._sources[data_source_id]


def _hint_once(base_url: str, data_source_id: int, source: DataSource | None) -> None:
    key = (base_url, data_source_id)
    if key in _hinted:
        return
    _hinted.add(key)
    what = f"data source {data_source_id}" + (f" ({source.name!r}, type {source.type})" if source else "")
    log.info(
        "Lineage: the API key of this connection cannot read the options of %s (Redash shows a data source's "
        "host and database to admins only), so the tables its queries read are named by the Redash data source "
        "(%s://%s/data_sources/%s/<table>). For OpenLineage names such as postgres://host:port "
        "database.schema.table, give the connection the API key of a user in Redash's admin group.",
        what,
        SCHEME,
        server_of(base_url)[0],
        data_source_id,
    )


def _table_names(server: _Server, query: Query) -> tuple[list[DatasetName], list[DatasetName]]:
    """The datasets ``query`` reads and writes (empty when the SQL or its data source is unknown)."""
    from airflow_provider_dash.sql import dialect_for, extract_tables

    if query.data_source_id is None or not query.query_text.strip():
        return [], []
    source = server.data_source(query.data_source_id)
    dialect = dialect_for(source.type) if source is not None else None
    found = extract_tables(query.query_text, dialect)
    if not found.ok:
        log.warning("Lineage: the SQL of query %s did not parse fully (%s); listing what did", query.id, found.error)
    if found.parameter_tables:
        log.info(
            "Lineage: query %s names tables through parameters (%s); they are not listed",
            query.id,
            ", ".join(t.qualified for t in found.parameter_tables),
        )

    def name(table: Any) -> DatasetName:
        return table_dataset(
            server.base_url,
            query.data_source_id or 0,
            source.type if source is not None else "",
            source.options if source is not None else None,
            table,
        )

    reads, writes = [name(t) for t in found.reads], [name(t) for t in found.writes]
    if any(not d.fully_named for d in (*reads, *writes)) and (source is None or not source.options_visible):
        _hint_once(server.base_url, query.data_source_id, source)
    return reads, writes


def _result_output(server: _Server, query_id: int, result_id: int | None) -> Any:
    """The query result as an OpenLineage output dataset, with its schema, row count and version."""
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from openlineage.client.facet_v2 import dataset_version_dataset

    ref = object_ref(server.base_url, "queries", query_id)
    result = server.result(query_id, result_id) if result_id is not None else None
    if result is None:
        return OutputDataset(namespace=ref.namespace, name=ref.name)
    schema = SchemaDatasetFacet(
        fields=[SchemaDatasetFacetFields(name=c.name, type=c.type or _TEXT_TYPE) for c in result.columns]
    )
    return OutputDataset(
        namespace=ref.namespace,
        name=ref.name,
        facets={"schema": schema, "version": dataset_version_dataset.DatasetVersionDatasetFacet(str(result.id))},
        outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=result.row_count)},
    )


def _unique(names: Iterable[DatasetName]) -> list[DatasetName]:
    return list({(n.namespace, n.name): n for n in names}.values())


def query_lineage(
    hook: DashHook,
    runs: Sequence[QueryRunFacts],
    *,
    results: Mapping[int, QueryResult] | None = None,
    dashboard_id: int | None = None,
    outputs: bool = True,
) -> OperatorLineage:
    """The lineage of a task that ran saved queries (one, or a dashboard's).

    Every table and every query result appears once, however many runs read or made it.

    :param hook: the task's hook (reads queries, data sources and results).
    :param runs: the runs the task made, in order.
    :param results: results the task already fetched, by id (not fetched again).
    :param dashboard_id: the refreshed dashboard, if any (its page is the job's source location).
    :param outputs: list the results (False on a failure before any result).
    """
    from airflow.providers.common.compat.openlineage.facet import (
        ExternalQueryRunFacet,
        InputDataset,
        OutputDataset,
        SQLJobFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.facet_v2 import source_code_location_job

    from airflow_provider_dash.lineage.redash_facets import RedashRunFacet

    server = _Server(hook, results or {})
    query_ids = list(dict.fromkeys(run.query_id for run in runs))
    reads: list[DatasetName] = []
    writes: list[DatasetName] = []
    texts: list[str] = []
    for query_id in query_ids:
        query = server.query(query_id)
        if query is None:
            continue
        read, written = _table_names(server, query)
        reads += read
        writes += written
        texts.append(query.query_text.strip().rstrip(";"))
    last: dict[int, QueryRunFacts] = {run.query_id: run for run in runs if run.result_id is not None}
    outs = [OutputDataset(namespace=d.namespace, name=d.name) for d in _unique(writes)]
    if outputs:
        outs = [_result_output(server, qid, last[qid].result_id) for qid in query_ids if qid in last] + outs

    namespace = f"{SCHEME}://{server_of(server.base_url)[0]}"
    run_facets: dict[str, Any] = {}
    if dashboard_id is None and runs:
        run = runs[-1]
        page = query_page_url(server.base_url, run.query_id)
        run_facets["redash"] = RedashRunFacet(
            server=namespace, queryId=run.query_id, jobId=run.job_id, queryResultId=run.result_id
        )
        if run.job_id is not None:
            run_facets["externalQuery"] = ExternalQueryRunFacet(externalQueryId=run.job_id, source=namespace)
    else:
        page = dashboard_page_url(server.base_url, dashboard_id or 0)
        run_facets["redash"] = RedashRunFacet(
            server=namespace,
            dashboardId=dashboard_id,
            queries=[{"queryId": r.query_id, "jobId": r.job_id, "queryResultId": r.result_id} for r in runs],
        )
    job_facets: dict[str, Any] = {
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(type="redash", url=page)
    }
    if texts:
        job_facets["sql"] = SQLJobFacet(query=";\n".join(texts))
    return OperatorLineage(
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in _unique(reads)],
        outputs=outs,
        run_facets=run_facets,
        job_facets=job_facets,
    )


def file_dataset_name(path: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of an exported file: a local path or an object-store URI.

    ``/tmp/x.csv`` and ``file:///tmp/x.csv`` -> ``("file", "/tmp/x.csv")``;
    ``s3://conn@bucket/k/x.csv`` -> ``("s3://bucket", "k/x.csv")`` (the connection id is not part
    of the name).
    """
    parts = urlsplit(path)
    if not parts.scheme or parts.scheme == "file" or len(parts.scheme) == 1:  # a Windows drive is no scheme
        return "file", parts.path if parts.scheme == "file" else path
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}", parts.path.lstrip("/")


def export_lineage(
    hook: DashHook,
    *,
    run: QueryRunFacts | None,
    ran_query: bool,
    written: Mapping[str, Any] | None,
) -> OperatorLineage:
    """The lineage of an export: it read the query result (and, when it ran the query itself, the
    tables the query reads) and wrote a file.

    :param run: the result's query and, when known, the job and the result.
    :param ran_query: the export ran the query itself (else it exported a stored result).
    :param written: the export's return value (``path``, ``rows``, ``bytes``), ``None`` when
        nothing was written.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    lineage = query_lineage(hook, [run], outputs=False) if run is not None else OperatorLineage()
    inputs = list(lineage.inputs) if ran_query else []
    if run is not None:
        ref = object_ref(hook.config.base_url, "queries", run.query_id)
        inputs.append(InputDataset(namespace=ref.namespace, name=ref.name))
    outputs = []
    if written is not None:
        namespace, name = file_dataset_name(str(written["path"]))
        stats = OutputStatisticsOutputDatasetFacet(rowCount=written.get("rows"), size=written.get("bytes"))
        outputs.append(OutputDataset(namespace=namespace, name=name, outputFacets={"outputStatistics": stats}))
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=lineage.run_facets, job_facets=lineage.job_facets)
