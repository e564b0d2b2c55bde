"""ExportEndpointResultOperator: write every row of a PostHog endpoint run to CSV or JSON Lines, streamed and atomic.

The endpoint runs like :class:`~airflow_provider_dash.operators.posthog.RunEndpointOperator`
(variable checks, worker or triggerer run, timeout, cancel on kill) with ``fetch_all``: pages are
encoded and written one at a time (memory holds one page, whatever the result size) to a temporary
name next to the target, renamed when complete (:func:`airflow_provider_dash.export.write_atomically`).
After a deferral the pages are read again in the worker from PostHog's cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.export import ROW_FORMATS
from airflow_provider_dash.operators.posthog import RunEndpointOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.hooks._posthog_runs import RunSpec
    from airflow_provider_dash.hooks.posthog import PostHogHook
    from airflow_provider_dash.models.posthog import EndpointRun


class ExportEndpointResultOperator(RunEndpointOperator):
    """Run an endpoint and write every row to ``path`` (local, or any ``ObjectStoragePath`` URI).

    :param path: the target (templated): a local path (parent directories are created) or a URI
        (``file://``, ``s3://``, ``gs://``... with their providers; the store's connection as ``storage_conn_id``).
    :param format: ``csv`` (header, NULL as an empty field) or ``jsonl`` (one ``{column: value}`` per line).
    :param storage_conn_id: the Airflow connection of the object store (URIs only).
    :return: ``{"path", "format", "rows", "bytes", "endpoint", "version", "pages", "execution_ids"}``.
    :raises DashConnectionError: the run broke mid-way (nothing is left at ``path``).
    """

    template_fields: Sequence[str] = (*RunEndpointOperator.template_fields, "path")
    _reads_rows = True

    def __init__(
        self,
        *,
        endpoint: str,
        path: str | os.PathLike[str],
        format: str = "csv",
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("return_rows"):
            raise DashConfigError("an export writes the rows to path: return_rows cannot be True")
        kwargs.setdefault("fetch_all", kwargs.get("limit") is None)
        super().__init__(endpoint=endpoint, **kwargs)
        if format not in ROW_FORMATS:
            raise DashConfigError(f"format must be one of {', '.join(ROW_FORMATS)}, got {format!r}")
        if not path or not isinstance(path, (str, os.PathLike)):
            raise DashConfigError(f"path must be a local path or a URI, got {path!r}")
        self.path = path
        self.file_format = format
        self.storage_conn_id = storage_conn_id

    def _consume(self, context: Context, hook: PostHogHook, spec: RunSpec, pages: Iterator[EndpointRun]) -> Any:
        """Encode and write each page as it arrives, atomically; describe what was written."""
        from airflow_provider_dash.export import RowEncoder, resolve_target, write_atomically
        from airflow_provider_dash.models.posthog import RunSummary

        try:
            target = resolve_target(self.path, self.storage_conn_id)
        except ValueError as error:
            raise DashConfigError(str(error)) from None
        summary = RunSummary(spec.endpoint, spec.client_query_id)
        encoder: RowEncoder | None = None

        def chunks() -> Iterator[bytes]:
            nonlocal encoder
            for run in pages:
                summary.add(run)
                columns = list(run.columns or ())
                if columns:
                    rows: list[Any] = run.results
                else:  # an insight's items: their keys are the columns
                    dicts = run.row_dicts()
                    columns = list(dicts[0]) if dicts else []
                    rows = [[d.get(c) for c in columns] for d in dicts]
                if encoder is None:
                    encoder = RowEncoder(self.file_format, columns)
                chunk = encoder.encode(rows)
                if chunk:
                    yield chunk
            if encoder is None:  # no page at all: an empty file
                encoder = RowEncoder(self.file_format, [])

        written = write_atomically(target, chunks())
        rows = encoder.rows if encoder is not None else 0
        self.log.info(
            "Exported endpoint %r to %s: %s, %d rows, %d bytes", spec.endpoint, target, self.file_format, rows, written
        )
        return {
            "path": str(target),
            "format": self.file_format,
            "rows": rows,
            "bytes": written,
            "endpoint": spec.endpoint,
            "version": summary.version,
            "pages": summary.pages,
            "execution_ids": summary.execution_ids,
        }
