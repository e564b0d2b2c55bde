"""ExportQueryResultOperator: stream a Redash query result to a local file or any Airflow object store.

The bytes go from the server's download route (:meth:`DashHook.open_query_result_stream`) to the
target chunk by chunk, so memory does not grow with the result. The target is written under a
temporary name next to it and renamed when complete, so a failed export never leaves a half file
at the final path. Rows are counted while streaming (see :class:`airflow_provider_dash.export.RowCounter`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.arguments import as_id, is_template
from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.export import RowCounter, counted, resolve_target, write_atomically
from airflow_provider_dash.hooks._redash_routes import check_download_format
from airflow_provider_dash.operators.redash import RunQueryOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath


class ExportQueryResultOperator(RunQueryOperator):
    """Export a query result (a fresh run, or a given result id) to a local path or an object-store URI.

    With ``query_result_id`` the given result is exported as it is. Otherwise ``query_id`` is run
    exactly like :class:`RunQueryOperator` does (cached answer, wait in the worker or deferred,
    reattach on retry, timeout) and its result is exported.

    ``path`` is a local path, or any URI Airflow's ``ObjectStoragePath`` understands (``file://``
    always; ``s3://``, ``gs://``, ``abfs://``... with their providers installed; pass the store's
    connection as ``storage_conn_id`` or in the URI as ``s3://conn_id@bucket/key``). The file is
    streamed end to end (memory stays flat whatever the result size) to a temporary name next to
    the target (``.<name>.<random>.part``) and renamed into place once complete: a failed export
    leaves nothing at ``path`` (an existing file there stays as it was) and removes the temporary
    file. On stores where a rename is a copy and delete (S3, GCS) the final object still appears
    only once complete.

    Rows are counted while streaming: CSV/TSV by their record ends (quoted line breaks inside
    values are handled; the header is not a row), JSON by decoding the rows one at a time. XLSX is
    not counted (``rows`` is ``None``).

    :param path: the target (templated): a local path (parent directories are created) or a URI.
    :param query_id: the saved query to run (templated); with ``query_result_id``, the result's
        query (needed with a query API key).
    :param query_result_id: export this stored result instead of running the query (templated,
        e.g. ``"{{ ti.xcom_pull(task_ids='gate') }}"``).
    :param parameters: parameter values of the run (templated).
    :param max_age: reuse a cached result up to this many seconds old (templated; default 0:
        always run; ``None``: any cached result).
    :param format: ``csv`` (default), ``tsv``, ``json`` (Redash's ``{"query_result": ...}``) or
        ``xlsx``, as the server renders them.
    :param storage_conn_id: the Airflow connection of the object store (URIs only).
    :return: ``{"path", "format", "rows", "bytes", "query_result_id"}``.
    :raises DashConfigError: neither ``query_id`` nor ``query_result_id``, or a bad format or path.
    :raises DashConnectionError: the download broke (nothing is left at ``path``).
    """

    template_fields: Sequence[str] = ("query_id", "query_result_id", "parameters", "max_age", "path")
    _query_id_required = False

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        query_id: int | str | None = None,
        query_result_id: int | str | None = None,
        parameters: Mapping[str, Any] | str | None = None,
        max_age: int | str | None = 0,
        format: str = "csv",
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("wait_for_completion", True) is not True:
            raise DashConfigError("an export must wait for its query: wait_for_completion cannot be False")
        super().__init__(query_id=query_id, parameters=parameters, max_age=max_age, **kwargs)
        if query_id is None and query_result_id is None:
            raise DashConfigError("give query_id (to run the query) or query_result_id (to export a stored result)")
        if query_result_id is not None and not is_template(query_result_id):
            self._result_id(query_result_id)
        if not path or not isinstance(path, (str, os.PathLike)):
            raise DashConfigError(f"path must be a local path or a URI, got {path!r}")
        self.path = path
        self.query_result_id = query_result_id
        self.file_format = check_download_format(format)
        self.storage_conn_id = storage_conn_id

    @staticmethod
    def _result_id(value: Any) -> int | None:
        if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DashConfigError(f"query_result_id must be a positive result id, got {value!r}")
        return value

    def _query_id(self) -> int | None:
        if self.query_id is None or (isinstance(self.query_id, str) and self.query_id.strip() in ("", "None")):
            return None
        return as_id(self.query_id)

    def execute(self, context: Context) -> Any:
        """Export the given result, or run the query (as RunQueryOperator) and export its result."""
        result_id = self._result_id(self.query_result_id)
        if result_id is not None:
            return self._on_result(context, result_id)
        if self._query_id() is None:
            raise DashConfigError("query_id and query_result_id both rendered empty: nothing to export")
        return super().execute(context)

    def _on_result(self, context: Context, result_id: int) -> dict[str, Any]:
        """Stream result ``result_id`` to ``path`` atomically and describe what was written."""
        counter = RowCounter(self.file_format)
        target = self._target()
        shown = str(target)
        with self._get_hook().open_query_result_stream(
            result_id, file_format=self.file_format, query_id=self._query_id()
        ) as chunks:
            written = write_atomically(target, counted(chunks, counter))
        rows = counter.rows()
        self.log.info(
            "Exported query result %s to %s: %s, %s rows, %d bytes", result_id, shown, self.file_format, rows, written
        )
        done = {"path": shown, "format": self.file_format, "rows": rows, "bytes": written, "query_result_id": result_id}
        self._lineage()["written"] = done
        return done

    def _openlineage(self, failed: bool) -> OperatorLineage:
        """Inputs: the query result (and the tables the query reads, when the export ran it); output: the file."""
        from airflow_provider_dash.lineage.redash import QueryRunFacts, export_lineage

        state = self._lineage()
        given = self._result_id(self.query_result_id)
        query_id = self._query_id()
        run = QueryRunFacts(*state["runs"][-1]) if state["runs"] else None
        if run is None and query_id is not None:
            run = QueryRunFacts(query_id, None, given)
        return export_lineage(self._get_hook(), run=run, ran_query=given is None, written=state.get("written"))

    def _target(self) -> str | ObjectStoragePath:
        try:
            return resolve_target(self.path, self.storage_conn_id)
        except ValueError as error:
            raise DashConfigError(str(error)) from None
