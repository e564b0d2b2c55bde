"""Copying saved queries onto a server (with their visualizations), and taking back what a failed copy made.

Shared by clone-dashboard and import-queries: both create queries, visualizations, dashboards and
widgets, and both must leave nothing half-made when they fail. :class:`CreatedObjects` is the
ledger of what was made; :meth:`CreatedObjects.undo` archives it (Redash's DELETE archives queries
and dashboards; archiving a dashboard takes its widgets off every list, and archiving a query
retires its visualizations with it).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashError, DashResponseError

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.models.redash_tools import SavedQuery, Visualization


class CreatedObjects:
    """The queries and dashboards one run created on ``client``'s server (thread-safe).

    :param client: the server they were created on.
    """

    def __init__(self, client: RedashClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self.queries: list[int] = []
        self.dashboards: list[int] = []

    def query(self, query_id: int) -> None:
        """Note a query this run created."""
        with self._lock:
            self.queries.append(query_id)

    def dashboard(self, dashboard_id: int) -> None:
        """Note a dashboard this run created."""
        with self._lock:
            self.dashboards.append(dashboard_id)

    def undo(self) -> list[str]:
        """Archive every dashboard, then every query, this run created (each is tried, whatever fails).

        :return: what could not be archived (empty when everything was).
        """
        problems: list[str] = []
        with self._lock:
            dashboards, queries = list(self.dashboards), list(self.queries)
        for dashboard_id in reversed(dashboards):
            try:
                self.client.archive_dashboard(dashboard_id)
            except DashError as error:
                problems.append(f"dashboard {dashboard_id}: {error}")
        for query_id in reversed(queries):
            try:
                self.client.archive_query(query_id)
            except DashError as error:
                problems.append(f"query {query_id}: {error}")
        return problems

    def undo_for(self, error: BaseException) -> None:
        """Undo (:meth:`undo`) after ``error`` stopped the run, and add to ``error`` a note of what was archived."""
        what = self.describe()
        problems = self.undo()
        note = f"Archived what this run had created on {self.client.config.base_url} ({what})"
        if problems:
            note += "; could NOT archive: " + "; ".join(problems)
        error.add_note(note)

    def describe(self) -> str:
        """ "queries 12, 13 and dashboard 4" (or "nothing")."""
        parts = []
        if self.queries:
            parts.append("queries " + ", ".join(str(q) for q in self.queries))
        if self.dashboards:
            parts.append("dashboards " + ", ".join(str(d) for d in self.dashboards))
        return " and ".join(parts) or "nothing"


def create_query_copy(
    client: RedashClient,
    created: CreatedObjects,
    *,
    name: str,
    sql: str,
    data_source_id: int,
    description: str | None,
    options: Mapping[str, Any],
    tags: Sequence[str],
    visualizations: Sequence[Visualization],
    schedule: Mapping[str, Any] | None = None,
    publish: bool = False,
) -> tuple[SavedQuery, dict[int, int]]:
    """Create a query with copies of ``visualizations`` (noted in ``created`` as soon as it exists).

    Redash gives every new query a default TABLE visualization: the first source visualization of
    the same type and name takes it over (its options are set when they differ); the others are
    created.

    :param schedule: set this refresh schedule (``None``: none).
    :param publish: take it out of draft (Redash creates queries as drafts).
    :return: the new query, and source visualization id -> new visualization id.
    :raises DashError: when the server refuses (the caller undoes what ``created`` holds).
    """
    body: dict[str, Any] = {
        "name": name,
        "query": sql,
        "data_source_id": data_source_id,
        "options": copy.deepcopy(dict(options)),
        "tags": list(tags),
    }
    if description is not None:
        body["description"] = description
    new = client.create_saved_query(body)
    created.query(new.id)
    spare = list(new.visualizations)
    mapping: dict[int, int] = {}
    for source in visualizations:
        reuse = next((v for v in spare if (v.type, v.name) == (source.type, source.name)), None)
        if reuse is not None:
            spare.remove(reuse)
            if (reuse.options, reuse.description or "") != (source.options, source.description or ""):
                client.edit_visualization(reuse.id, options=source.options, description=source.description or "")
            mapping[source.id] = reuse.id
        else:
            made = client.create_visualization(
                new.id, type=source.type, name=source.name, description=source.description, options=source.options
            )
            mapping[source.id] = made.id
    changes: dict[str, Any] = {}
    if schedule:
        changes["schedule"] = dict(schedule)
    if publish:
        changes["is_draft"] = False
    if changes:
        new = client.edit_saved_query(new.id, **changes)
    return new, mapping


def fork_visualizations(source: SavedQuery, fork: SavedQuery) -> dict[int, int]:
    """Source visualization id -> the fork's copy (Redash copies them in order, with new ids).

    :raises DashResponseError: when the fork's visualizations do not match the source's.
    """
    ours = [(v.type, v.name) for v in source.visualizations]
    theirs = [(v.type, v.name) for v in fork.visualizations]
    if ours != theirs:
        raise DashResponseError(
            f"The fork {fork.id} of query {source.id} has visualizations {theirs}, expected copies of {ours}"
        )
    return {old.id: new.id for old, new in zip(source.visualizations, fork.visualizations, strict=True)}


def remap_query_parameters(options: Mapping[str, Any], new_ids: Mapping[int, int]) -> dict[str, Any] | None:
    """``options`` with each query-based parameter (``queryId``) pointed at the copy of its query.

    :param new_ids: source query id -> copy id.
    :return: the changed options, or ``None`` when no parameter needed a change.
    """
    parameters = options.get("parameters")
    if not isinstance(parameters, list):
        return None
    changed = False
    remapped = []
    for parameter in parameters:
        target = parameter.get("queryId") if isinstance(parameter, dict) else None
        if isinstance(target, int) and target in new_ids:
            parameter = {**parameter, "queryId": new_ids[target]}
            changed = True
        remapped.append(parameter)
    return {**options, "parameters": remapped} if changed else None


def query_dependencies(query: SavedQuery) -> list[int]:
    """The queries whose results feed this query's dropdown parameters (``type: query``, ``queryId``)."""
    ids = {p.get("queryId") for p in query.parameters}
    return sorted(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
