"""The files of a query export: one ``query_<id>.sql`` per query (its SQL under a header of metadata) and a manifest.

A query file opens with a comment block, one ``key: <JSON>`` line per field (name, data source,
parameters, tags, schedule, description, updated_at, the other options, visualizations), then
holds the SQL exactly as saved::

    /* dash-tools query export 1: query 7 of https://redash.example.com
       id: 7
       name: "Orders by region"
       data_source: {"name": "warehouse", "type": "pg"}
       ...
    */
    select region, sum(amount) from orders group by region

Every value is one line of JSON (``*/`` written ``*\\/``, which JSON reads back as ``*/``), so the
block always ends at its own ``*/`` line and the file can be read back exactly: the import restores
a query from its file alone. ``manifest.json`` lists the files, with what each held when written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.models.redash_tools import DataSource, QueryExportRecord, SavedQuery, Visualization

MANIFEST = "manifest.json"
FORMAT = "dash-tools query export"
VERSION = 1
_HEADER_START = f"/* {FORMAT} {VERSION}: "
_HEADER_END = "*/"
_FIELDS = (
    "id",
    "name",
    "data_source",
    "parameters",
    "tags",
    "schedule",
    "description",
    "updated_at",
    "is_draft",
    "is_archived",
    "options",
    "visualizations",
)


class DataSourceName(BaseModel):
    """A data source as an export names it: by name and type (ids differ between servers)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str = ""


class ExportedQuery(BaseModel):
    """A query read back from its export file.

    :ivar options: Redash's options without ``parameters`` (see :meth:`all_options`).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    name: str
    data_source: DataSourceName | None
    parameters: tuple[dict[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    schedule: dict[str, Any] | None = None
    description: str | None = None
    updated_at: str | None = None
    is_draft: bool = False
    is_archived: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
    visualizations: tuple[Visualization, ...] = ()
    sql: str

    def all_options(self) -> dict[str, Any]:
        """Redash's ``options``, parameters included."""
        return {**self.options, "parameters": list(self.parameters)} if self.parameters else dict(self.options)


class Manifest(BaseModel):
    """``manifest.json``: what server the export is of, and each query's file (sorted by id)."""

    model_config = ConfigDict(frozen=True)

    format: str = FORMAT
    version: int = VERSION
    server: str
    archived: bool = False
    queries: tuple[QueryExportRecord, ...] = ()


class ManifestEntry(NamedTuple):
    """A :class:`QueryExportRecord` as an export holds it in memory: a plain tuple (a few hundred bytes a
    query, where a model takes about a kilobyte); the manifest file is still read through the model."""

    id: int
    name: str
    file: str
    updated_at: str | None
    fingerprint: str
    sha256: str
    deleted: bool = False

    @classmethod
    def of(cls, record: QueryExportRecord) -> ManifestEntry:
        """The entry of a record read from a manifest."""
        return cls(**record.model_dump())


def file_name(query_id: int) -> str:
    """``query_<id>.sql``."""
    return f"query_{int(query_id)}.sql"


def _header_values(query: SavedQuery, data_source: DataSource | None) -> dict[str, Any]:
    return {
        "id": query.id,
        "name": query.name,
        "data_source": {"name": data_source.name, "type": data_source.type} if data_source else None,
        "parameters": query.parameters,
        "tags": list(query.tags),
        "schedule": query.schedule,
        "description": query.description,
        "updated_at": query.updated_at,
        "is_draft": query.is_draft,
        "is_archived": query.is_archived,
        "options": {key: value for key, value in query.options.items() if key != "parameters"},
        "visualizations": [v.model_dump(mode="json") for v in query.visualizations],
    }


def fingerprint(query: SavedQuery, data_source: DataSource | None) -> str:
    """A hash of what the query list shows of a query (not ``updated_at``, not visualizations).

    A change Redash does not date (a renamed data source) changes it, so the file is rewritten.
    """
    values = _header_values(query, data_source)
    del values["updated_at"], values["visualizations"]
    values["sql"] = query.query
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def render_query_file(query: SavedQuery, data_source: DataSource | None, base_url: str) -> bytes:
    """The export file of ``query`` (fetched with its visualizations): header, then the SQL as saved.

    :return: its UTF-8 bytes.
    """
    lines = [f"{_HEADER_START}query {query.id} of {base_url}"]
    for key, value in _header_values(query, data_source).items():
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).replace("*/", "*\\/")
        lines.append(f"   {key}: {text}")
    lines.append(_HEADER_END)
    return ("\n".join(lines) + "\n" + query.query).encode("utf-8")


def parse_query_file(data: bytes, name: str) -> ExportedQuery:
    """Read a query back from its export file.

    :param name: the file's name, for error texts.
    :raises DashConfigError: naming the file and what is wrong (not an export file, a bad header line).
    """
    text = data.decode("utf-8")
    # Header values are one-line JSON with "*/" escaped: the first "*/" line ends the header.
    head, separator, sql = text.partition("\n" + _HEADER_END + "\n")
    lines = head.split("\n")
    if not separator or not lines[0].startswith(_HEADER_START):
        raise DashConfigError(
            f"{name} is not a {FORMAT} file: expected a first line starting {_HEADER_START!r} and a header ending with "
            f"a line {_HEADER_END!r}"
        )
    values: dict[str, Any] = {"sql": sql}
    for number, line in enumerate(lines[1:], start=2):
        key, colon, raw = line.strip().partition(": ")
        if not colon or key not in _FIELDS:
            raise DashConfigError(f"{name} line {number}: expected '<field>: <JSON>' with a field of {_FIELDS}")
        try:
            values[key] = json.loads(raw)
        except ValueError as error:
            raise DashConfigError(f"{name} line {number} ({key}): the value is not JSON: {error}") from None
    try:
        return ExportedQuery.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise DashConfigError(f"{name}: header field {field!r}: {first['msg']}") from None


def read_manifest(data: bytes | None, where: str) -> Manifest | None:
    """Parse ``manifest.json`` (``None`` when there is none).

    :raises DashConfigError: naming ``where`` when it is not a manifest of this format and version.
    """
    if data is None:
        return None
    try:
        raw = json.loads(data)
        manifest = Manifest.model_validate(raw)
    except (ValueError, ValidationError) as error:
        raise DashConfigError(f"{where}/{MANIFEST} is not a {FORMAT} manifest: {str(error).splitlines()[0]}") from None
    if manifest.format != FORMAT or manifest.version != VERSION:
        raise DashConfigError(
            f"{where}/{MANIFEST} is format {manifest.format!r} version {manifest.version}; "
            f"expected {FORMAT!r} version {VERSION}"
        )
    return manifest


def manifest_chunks(server: str, archived: bool, entries: Iterable[ManifestEntry]) -> Iterator[bytes]:
    """``manifest.json`` as written, in chunks: one line per query, sorted by id (never the whole text at once)."""
    head = {"format": FORMAT, "version": VERSION, "server": server, "archived": archived}
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "queries": [\n').encode("utf-8")
    for index, entry in enumerate(sorted(entries, key=lambda e: e.id)):
        line = json.dumps(entry._asdict(), ensure_ascii=False)
        yield (("," if index else " ") + line + "\n").encode("utf-8")
    yield b"]}\n"


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
