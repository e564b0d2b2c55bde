"""import-queries: restore or migrate a query export into a server, so an export is a real backup.

Every file of the export is read and checked, and every data source is matched by name on the
target server, before anything is created: a missing data source fails the import at once. Each
query is then created with its SQL, description, options (parameters), tags and visualizations,
published (or archived) when it was, given its refresh schedule back (unless ``schedules=False``), and the
dropdown parameters that read another imported query point at its new copy. Redash chooses the new
ids; the summary maps each old id to its new one. If anything fails, every query the run created is
archived again: nothing half-imported is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.export import ExportFolder
from airflow_provider_dash.tools.progress import NoProgress, Progress
from airflow_provider_dash.tools.redash_copy import CreatedObjects, create_query_copy, remap_query_parameters
from airflow_provider_dash.tools.redash_query_files import MANIFEST, ExportedQuery, parse_query_file, read_manifest

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.pool import BoundedPool


class ImportSummary(BaseModel):
    """What an import created: ``created`` maps each exported query id to its new id on the target."""

    model_config = ConfigDict(frozen=True)

    location: str
    source_server: str
    target_server: str
    created: dict[int, int]

    def summary(self) -> str:
        """One line: how many queries went where."""
        return f"{len(self.created)} queries imported from {self.location} into {self.target_server}"


def import_queries(
    client: RedashClient,
    location: str,
    *,
    schedules: bool = True,
    include_deleted: bool = False,
    storage_conn_id: str | None = None,
    pool: BoundedPool | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Create every query of the export at ``location`` on ``client``'s server.

    :param schedules: give each query its refresh schedule back (a migration may want none).
    :param include_deleted: also import the files kept for queries deleted on the source server.
    :param pool: create queries through it (concurrently; the summary is in id order).
    :return: old id -> new id.
    :raises DashConfigError: before creating anything, when the export is unreadable, a data
        source is missing (or ambiguous) on the target, or (on another server) a dropdown reads a
        query the export lacks, naming each.
    :raises DashError: when the server refuses something; what was created is archived first.
    """
    progress = progress or NoProgress()
    folder = ExportFolder(location, storage_conn_id=storage_conn_id)
    manifest = read_manifest(folder.read(MANIFEST), str(folder))
    if manifest is None:
        raise DashConfigError(f"{folder} has no {MANIFEST}: it is not a query export (make one with export-queries)")
    exported: list[ExportedQuery] = []
    for record in manifest.queries:
        if record.deleted and not include_deleted:
            continue
        data = folder.read(record.file)
        if data is None:
            raise DashConfigError(f"{folder}/{record.file} is missing (the manifest lists it for query {record.id})")
        exported.append(parse_query_file(data, f"{folder}/{record.file}"))
    data_sources = _match_data_sources(client, exported)
    _check_dropdown_sources(exported, manifest.server, client.config.base_url)
    created = CreatedObjects(client)

    def create(query: ExportedQuery) -> tuple[int, int]:
        assert query.data_source is not None
        new, _ = create_query_copy(
            client,
            created,
            name=query.name,
            sql=query.sql,
            data_source_id=data_sources[query.data_source.name],
            description=query.description,
            options=query.all_options(),
            tags=query.tags,
            visualizations=query.visualizations,
            schedule=query.schedule if schedules else None,
            publish=not query.is_draft,
        )
        if query.is_archived:
            client.archive_query(new.id)  # an archived query is restored archived
        return query.id, new.id

    progress.begin(f"Importing queries into {client.config.base_url}", len(exported))
    new_ids: dict[int, int] = {}
    try:
        made = pool.map_ordered(create, exported) if pool is not None else map(create, exported)
        for old_id, new_id in made:
            new_ids[old_id] = new_id
            progress.advance()
        for query in exported:
            options = remap_query_parameters(query.all_options(), new_ids)
            if options is not None:
                client.edit_saved_query(new_ids[query.id], options=options)
    except BaseException as error:
        created.undo_for(error)
        raise
    return ImportSummary(
        location=str(folder),
        source_server=manifest.server,
        target_server=client.config.base_url,
        created=dict(sorted(new_ids.items())),
    )


def _check_dropdown_sources(exported: list[ExportedQuery], source_server: str, target_server: str) -> None:
    """On another server, every query a dropdown parameter reads must be in the export.

    Its copy is what the dropdown is pointed at; left at the source's id it would read whatever
    query has that id on the target. (On the source server itself that id still names the query.)

    :raises DashConfigError: before anything is created, naming each query and what it reads.
    """
    if source_server.rstrip("/") == target_server.rstrip("/"):
        return
    ids = {query.id for query in exported}
    missing: dict[int, list[int]] = {}
    for query in exported:
        parameters = query.all_options().get("parameters") or []
        reads = {p.get("queryId") for p in parameters if isinstance(p, dict)}
        absent = sorted(i for i in reads if isinstance(i, int) and not isinstance(i, bool) and i not in ids)
        if absent:
            missing[query.id] = absent
    if missing:
        named = "; ".join(f"query {qid} reads query {', '.join(map(str, absent))}" for qid, absent in missing.items())
        raise DashConfigError(
            f"Dropdown parameters read queries that are not in this export ({named}): on {target_server} their ids "
            "would name other queries. Export them too (export-queries --archived if they are archived). "
            "Nothing was created."
        )


def _match_data_sources(client: RedashClient, exported: list[ExportedQuery]) -> dict[str, int]:
    """Data source name -> its id on the target. :raises DashConfigError: naming each one missing or ambiguous."""
    unnamed = [query.id for query in exported if query.data_source is None]
    if unnamed:
        raise DashConfigError(
            f"queries {unnamed} of the export name no data source (the exporting key could not see it): "
            "cannot tell where to create them"
        )
    by_name: dict[str, list[int]] = {}
    for source in client.list_data_source_objects():
        by_name.setdefault(source.name, []).append(source.id)
    needed = sorted({query.data_source.name for query in exported if query.data_source is not None})
    missing = [name for name in needed if name not in by_name]
    ambiguous = [name for name in needed if len(by_name.get(name, [])) > 1]
    if missing or ambiguous:
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(repr(n) for n in missing)}")
        if ambiguous:
            problems.append(f"more than one with the name: {', '.join(repr(n) for n in ambiguous)}")
        raise DashConfigError(
            f"{client.config.base_url} cannot take this export, its data sources are matched by name and some are "
            f"{'; '.join(problems)}. Available: {', '.join(repr(n) for n in sorted(by_name)) or 'none'}. "
            "Nothing was created."
        )
    return {name: by_name[name][0] for name in needed}
