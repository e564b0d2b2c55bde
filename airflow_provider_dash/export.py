"""Streamed, atomic export (product-neutral): count rows as bytes pass, write to a path or object store atomically.

:class:`ExportFolder` is a folder of such files (local or in an object store), for exports of many files.

Bytes go from an HTTP response to the target chunk by chunk, so memory does not grow with the
result; the target is written as ``.<name>.<random>.part`` next to it, then renamed, so readers
never see half a file and a failed export leaves nothing (an existing file keeps its content).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from airflow_provider_dash.exceptions import DashConfigError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath


class RowCounter:
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


def is_uri(path: str) -> bool:
    return "://" in path


def resolve_target(path: str | os.PathLike[str], storage_conn_id: str | None = None) -> str | ObjectStoragePath:
    """Where an export writes: an absolute local path, or an ``ObjectStoragePath`` for a URI
    (``s3://``, ``gs://``, ``file://`` ...; its store's connection ``storage_conn_id``).

    :raises ValueError: for an empty path.
    """
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"path rendered empty or not a text: {path!r}")
    if not is_uri(text):
        return os.path.abspath(os.path.expanduser(text))
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(text, conn_id=storage_conn_id)


def counted(chunks: Iterable[bytes], counter: RowCounter) -> Iterator[bytes]:
    for chunk in chunks:
        counter.feed(chunk)
        yield chunk


def write_atomically(target: str | ObjectStoragePath, chunks: Iterable[bytes]) -> int:
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


class ExportFolder:
    """A folder of exported files, local or in an object store; every file is written atomically.

    :param location: a local folder (created when needed) or a URI Airflow's ``ObjectStoragePath``
        understands (``file://``, ``s3://``...). Only a URI imports Airflow.
    :param storage_conn_id: the object store's Airflow connection (URIs only).
    """

    def __init__(self, location: str, *, storage_conn_id: str | None = None) -> None:
        if not isinstance(location, str) or not location.strip():
            raise DashConfigError(f"the export location must be a folder path or a URI, got {location!r}")
        self.location = location.strip()
        self._root: ObjectStoragePath | None = None
        self._local: str | None = None
        if is_uri(self.location):
            from airflow.sdk import ObjectStoragePath

            self._root = ObjectStoragePath(self.location, conn_id=storage_conn_id)
        else:
            self._local = os.path.abspath(os.path.expanduser(self.location))

    def __str__(self) -> str:
        return self.location

    def _target(self, name: str) -> str | ObjectStoragePath:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise DashConfigError(f"{name!r} is not a file name inside the export folder")
        if self._local is not None:
            return os.path.join(self._local, name)
        assert self._root is not None
        return self._root / name

    def read(self, name: str) -> bytes | None:
        """The bytes of file ``name``, or ``None`` when there is no such file."""
        target = self._target(name)
        try:
            if isinstance(target, str):
                with open(target, "rb") as stream:
                    return stream.read()
            with target.open("rb") as remote:
                return bytes(remote.read())
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes | Iterable[bytes]) -> int:
        """Write file ``name`` atomically (a temporary name next to it, then a rename).

        :param data: the bytes, or an iterable of chunks (written as they come).
        :return: the number of bytes written.
        """
        return write_atomically(self._target(name), [data] if isinstance(data, bytes) else data)

    def remove(self, name: str) -> None:
        """Remove file ``name`` (nothing happens when it is not there)."""
        target = self._target(name)
        if isinstance(target, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        else:
            target.unlink(missing_ok=True)


#: Row formats :class:`RowEncoder` writes.
ROW_FORMATS = ("csv", "jsonl")


class RowEncoder:
    """Encodes rows (lists of values) to CSV (header first) or JSON Lines (one object per row), page by page.

    CSV: values as text, NULL as an empty field, lists and objects as their JSON text. JSON Lines:
    ``{column: value}`` per line. Rows are counted as they are encoded.

    :param file_format: ``csv`` or ``jsonl``.
    :param columns: the column names.
    """

    def __init__(self, file_format: str, columns: Iterable[str]) -> None:
        if file_format not in ROW_FORMATS:
            raise ValueError(f"format must be one of {', '.join(ROW_FORMATS)}, got {file_format!r}")
        self.format = file_format
        self.columns = list(columns)
        self.rows = 0
        self._header_done = False

    def encode(self, rows: Iterable[Iterable[object]]) -> bytes:
        """The bytes of ``rows`` (the CSV header before the first ones)."""
        import csv
        import io

        if self.format == "jsonl":
            lines = []
            for row in rows:
                lines.append(json.dumps(dict(zip(self.columns, row, strict=False)), default=str))
                self.rows += 1
            return ("\n".join(lines) + "\n").encode() if lines else b""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if not self._header_done:
            writer.writerow(self.columns)
            self._header_done = True
        for row in rows:
            writer.writerow("" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v for v in row)
            self.rows += 1
        return out.getvalue().encode()
