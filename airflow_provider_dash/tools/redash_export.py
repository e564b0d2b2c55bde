"""export-queries: every saved query to a folder (local or an object store), one file each plus a manifest.

Incremental: a query whose ``updated_at``, listed metadata and file are as the manifest says is
left alone; only the others are fetched (with their visualizations) and rewritten. Files of
queries gone from the server are removed, or kept and marked ``deleted`` with ``keep_deleted``.
Each file and then the manifest are written atomically (a temporary name, then a rename), so a
failed run leaves every file either as it was or wholly new, and the old manifest in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.export import ExportFolder
from airflow_provider_dash.models.redash_tools import DataSource, SavedQuery
from airflow_provider_dash.tools.progress import NoProgress, Progress
from airflow_provider_dash.tools.redash_query_files import (
    MANIFEST,
    ManifestEntry,
    file_name,
    fingerprint,
    manifest_chunks,
    read_manifest,
    render_query_file,
    sha256,
)

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.pool import BoundedPool


class ExportFailure(BaseModel):
    """A query whose file could not be written (its old file and manifest entry are kept)."""

    model_config = ConfigDict(frozen=True)

    query_id: int
    error: str


class ExportSummary(BaseModel):
    """What an export did.

    :ivar written: ids of the queries whose files were (re)written.
    :ivar unchanged: how many files were already up to date.
    :ivar removed: ids of the queries gone from the server whose files were removed.
    :ivar kept_deleted: ids of the queries gone from the server whose files were kept.
    """

    model_config = ConfigDict(frozen=True)

    location: str
    queries: int
    written: tuple[int, ...] = ()
    unchanged: int = 0
    removed: tuple[int, ...] = ()
    kept_deleted: tuple[int, ...] = ()
    failures: tuple[ExportFailure, ...] = ()

    def summary(self) -> str:
        """One line: what was written where."""
        return (
            f"{self.queries} queries exported to {self.location}: {len(self.written)} written, {self.unchanged} "
            f"unchanged, {len(self.removed)} removed, {len(self.kept_deleted)} deleted on the server but kept"
            + (f"; {len(self.failures)} failed" if self.failures else "")
        )


def export_queries(
    client: RedashClient,
    location: str,
    *,
    archived: bool = False,
    keep_deleted: bool = False,
    storage_conn_id: str | None = None,
    pool: BoundedPool | None = None,
    progress: Progress | None = None,
) -> ExportSummary:
    """Export every saved query to ``location``, rewriting only what changed since the last export there.

    :param location: a local folder or an object-store URI (``s3://bucket/redash/``...).
    :param archived: export the archived queries too.
    :param keep_deleted: keep the files of queries gone from the server (else they are removed).
    :param storage_conn_id: the object store's Airflow connection (URIs only).
    :param pool: list pages and fetch queries through it (concurrently).
    :return: what was written, left, removed and what failed (a failed query keeps its old file).
    :raises DashConfigError: when ``location`` holds an export of another server, or a manifest
        that is not one.
    :raises DashError: when the query list or the data sources cannot be read (nothing is written).
    """
    progress = progress or NoProgress()
    folder = ExportFolder(location, storage_conn_id=storage_conn_id)
    base_url = client.config.base_url
    old = read_manifest(folder.read(MANIFEST), str(folder))
    if old is not None and old.server != base_url:
        raise DashConfigError(
            f"{folder} holds an export of {old.server}, not of {base_url}: export each server to its own folder"
        )
    previous = {record.id: ManifestEntry.of(record) for record in old.queries} if old is not None else {}
    old = None  # only the compact entries are kept
    sources = {source.id: source for source in client.list_data_source_objects()}

    def export_one(listed: SavedQuery) -> tuple[int, ManifestEntry | None, bool, str | None]:
        try:
            record, written = _export_query(client, folder, listed, previous.get(listed.id), sources, base_url)
        except DashError as error:
            return listed.id, previous.get(listed.id), False, str(error)
        return listed.id, record, written, None

    records: dict[int, ManifestEntry] = {}
    written: list[int] = []
    failures: list[ExportFailure] = []
    unchanged = 0
    progress.begin(f"Exporting queries to {folder}", None)
    listed = _listed(client, archived, pool)
    results = pool.map_ordered(export_one, listed) if pool is not None else map(export_one, listed)
    for query_id, record, was_written, error in results:
        if record is not None:
            records[query_id] = record
        if error is not None:
            failures.append(ExportFailure(query_id=query_id, error=error))
        elif was_written:
            written.append(query_id)
        else:
            unchanged += 1
        progress.advance()
    seen = {failure.query_id for failure in failures} | set(records)
    removed, kept = _retire(folder, [r for r in previous.values() if r.id not in seen], keep_deleted, records, failures)
    folder.write(MANIFEST, manifest_chunks(base_url, archived, records.values()))
    return ExportSummary(
        location=str(folder),
        queries=len(seen),
        written=tuple(sorted(written)),
        unchanged=unchanged,
        removed=tuple(sorted(removed)),
        kept_deleted=tuple(sorted(kept)),
        failures=tuple(sorted(failures, key=lambda f: f.query_id)),
    )


def _listed(client: RedashClient, archived: bool, pool: BoundedPool | None) -> Iterator[SavedQuery]:
    yield from client.iter_saved_queries(pool=pool)
    if archived:
        yield from client.iter_saved_queries(archived=True, pool=pool)


def _export_query(
    client: RedashClient,
    folder: ExportFolder,
    listed: SavedQuery,
    record: ManifestEntry | None,
    sources: dict[int, DataSource],
    base_url: str,
) -> tuple[ManifestEntry, bool]:
    """Rewrite one query's file unless the manifest shows it unchanged. :return: its record and whether written."""
    source = sources.get(listed.data_source_id) if listed.data_source_id is not None else None
    if (
        record is not None
        and not record.deleted
        and record.updated_at == listed.updated_at
        and record.fingerprint == fingerprint(listed, source)
        and record.file == file_name(listed.id)
    ):
        on_disk = folder.read(record.file)
        if on_disk is not None and sha256(on_disk) == record.sha256:
            return record, False
    # The list has no visualizations: the query itself is fetched for them.
    query = client.get_saved_query(listed.id)
    source = sources.get(query.data_source_id) if query.data_source_id is not None else None
    content = render_query_file(query, source, base_url)
    name = file_name(query.id)
    folder.write(name, content)
    new = ManifestEntry(
        id=query.id,
        name=query.name,
        file=name,
        updated_at=query.updated_at,
        fingerprint=fingerprint(query, source),
        sha256=sha256(content),
    )
    return new, True


def _retire(
    folder: ExportFolder,
    gone: list[ManifestEntry],
    keep_deleted: bool,
    records: dict[int, ManifestEntry],
    failures: list[ExportFailure],
) -> tuple[list[int], list[int]]:
    """Remove (or keep, marked deleted) the files of queries no longer on the server."""
    removed: list[int] = []
    kept: list[int] = []
    for record in gone:
        if keep_deleted:
            records[record.id] = record._replace(deleted=True)
            kept.append(record.id)
            continue
        try:
            folder.remove(record.file)
        except OSError as error:
            records[record.id] = record
            failures.append(ExportFailure(query_id=record.id, error=f"could not remove {record.file}: {error}"))
            continue
        removed.append(record.id)
    return removed, kept
