"""ExportQueryResultOperator: stream a Redash query result to a local file or any Airflow object store.

The bytes go from the server's download route (:meth:`DashHook.open_query_result_stream`) to the
target chunk by chunk, so memory does not grow with the result. The target is written under a
temporary name next to it and renamed when complete, so a failed export never leaves a half file
at the final path. Rows are counted while streaming (see :class:`_RowCounter`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashConfigError

# _api is stdlib-only (no requests, httpx or tenacity at import time).
from airflow_provider_dash.hooks._api import check_download_format
from airflow_provider_dash.operators.dash import RunQueryOperator, _as_query_id, _is_template

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath


class _RowCounter:
    """Counts the data rows of a CSV/TSV or Redash JSON download from its chunks, in constant memory.

    CSV and TSV (Redash writes them with Python's ``csv`` module: a field holding a quote, the
    delimiter or a line break is quoted, and inner quotes are doubled): a record ends at a line
    break outside quotes. Quote state is tracked on the raw bytes (``"`` and ``\\n`` never occur
    inside a multi-byte UTF-8 character), so a value with a line break counts once; the header is
    not counted. JSON: the objects of ``query_result.data.rows`` are decoded one at a time and
    counted. XLSX (a zip) is not counted: ``rows`` is ``None``.
    """

    def __init__(self, file_format: str) -> None:
        self.format = file_format
        self._records = 0
        self._in_quotes = False
        self._open_record = False  # bytes seen after the last record end
        self._json: _JsonRowsCounter | None = _JsonRowsCounter() if file_format == "json" else None

    def feed(self, chunk: bytes) -> None:
        """Account for the next chunk."""
        if self.format in ("csv", "tsv"):
            parts = chunk.split(b'"')
            inside = self._in_quotes
            for index, part in enumerate(parts):
                if index:
                    self._open_record = True  # a quote character: the record has content
                if part and inside:
                    self._open_record = True
                elif part:
                    ends = part.count(b"\n")
                    self._records += ends
                    self._open_record = not (ends and part.endswith(b"\n"))
                inside = not inside
            # Each quote toggles the state; len(parts) - 1 quotes were in this chunk.
            self._in_quotes ^= (len(parts) - 1) % 2 == 1
        elif self._json is not None:
            self._json.feed(chunk)

    def rows(self) -> int | None:
        """The number of data rows once every chunk was fed (``None`` for xlsx or an unreadable JSON)."""
        if self.format in ("csv", "tsv"):
            records = self._records + (1 if self._open_record else 0)
            return max(records - 1, 0)  # the header line is not a row
        if self._json is not None:
            return self._json.rows()
        return None


class _JsonRowsCounter:
    """Counts the objects of the first ``"rows": [...]`` array of a JSON text fed in chunks."""

    def __init__(self) -> None:
        import codecs
        import re

        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._json = json.JSONDecoder()
        self._start = re.compile(r'"rows"\s*:\s*\[')
        self._skip = re.compile(r"[\s,]*")
        self._buffer = ""
        self._state = "seek"  # seek -> rows -> done (or broken)
        self._count = 0

    def feed(self, chunk: bytes) -> None:
        if self._state in ("done", "broken"):
            return
        self._buffer += self._decoder.decode(chunk)
        if self._state == "seek":
            found = self._start.search(self._buffer)
            if found is None:
                self._buffer = self._buffer[-64:]  # the key may be split between two chunks
                return
            self._buffer = self._buffer[found.end() :]
            self._state = "rows"
        position = 0
        while True:
            skipped = self._skip.match(self._buffer, position)
            assert skipped is not None  # the pattern matches the empty text
            position = skipped.end()
            if position >= len(self._buffer):
                break
            if self._buffer[position] == "]":
                self._state = "done"
                break
            try:
                _, position = self._json.raw_decode(self._buffer, position)
            except ValueError:
                break  # the row continues in the next chunk
            self._count += 1
        self._buffer = self._buffer[position:]
        if len(self._buffer) > _MAX_JSON_ROW:
            self._state, self._buffer = "broken", ""  # not Redash's shape: stop counting, keep memory flat

    def rows(self) -> int | None:
        return self._count if self._state == "done" else None


#: A row of a JSON download longer than this stops the counting (rows is then None).
_MAX_JSON_ROW = 16 * 1024 * 1024


def _is_uri(path: str) -> bool:
    return "://" in path


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
        if query_result_id is not None and not _is_template(query_result_id):
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
        return _as_query_id(self.query_id)

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
        counter = _RowCounter(self.file_format)
        target = self._target()
        shown = str(target)
        with self._get_hook().open_query_result_stream(
            result_id, file_format=self.file_format, query_id=self._query_id()
        ) as chunks:
            written = _write_atomically(target, _counted(chunks, counter))
        rows = counter.rows()
        self.log.info(
            "Exported query result %s to %s: %s, %s rows, %d bytes", result_id, shown, self.file_format, rows, written
        )
        return {"path": shown, "format": self.file_format, "rows": rows, "bytes": written, "query_result_id": result_id}

    def _target(self) -> str | ObjectStoragePath:
        path = os.fspath(self.path)
        if not isinstance(path, str) or not path.strip():
            raise DashConfigError(f"path rendered empty or not a text: {self.path!r}")
        if not _is_uri(path):
            return os.path.abspath(os.path.expanduser(path))
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(path, conn_id=self.storage_conn_id)


def _counted(chunks: Iterable[bytes], counter: _RowCounter) -> Iterator[bytes]:
    for chunk in chunks:
        counter.feed(chunk)
        yield chunk


def _write_atomically(target: str | ObjectStoragePath, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to a temporary name next to ``target``, then rename it into place.

    :return: the number of bytes written.
    :raises BaseException: whatever broke the stream or the write, after removing the temporary file.
    """
    written = 0
    if isinstance(target, str):
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
            os.replace(tmp_path, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
            raise
        return written
    if target.protocol in ("file", "local", ""):
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.part"
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        tmp.rename(target)
    except BaseException:
        with contextlib.suppress(Exception):
            tmp.unlink(missing_ok=True)
        raise
    return written
