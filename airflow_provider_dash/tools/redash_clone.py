"""clone-dashboard: copy a dashboard with copies of its queries, their visualizations and its widgets.

:func:`plan_clone` reads everything first (the dashboard by id or slug, each widget's query with its
visualizations, and, for another server, the data sources of both) and fails before anything is
created when the copy cannot be made: a data source missing on the target (data sources are matched
by name), a widget whose visualization its query does not list. :func:`run_clone` then makes the
copies: on the same server each query is forked (Redash copies its visualizations), on another one
it is created with copies of its visualizations; the dashboard gets the widgets with the same
positions, texts and parameter mappings, pointed at the new visualizations, and dropdown parameters
fed by a cloned query point at its copy. If any step fails, everything the run created is archived,
so nothing half-cloned is left. A clone's queries get no refresh schedule: a copy should not double
the load on the data source; set one on the copies if wanted.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.hooks._redash_web import dashboard_page_url
from airflow_provider_dash.models.redash_tools import DashboardLayout, SavedQuery, WidgetToCreate
from airflow_provider_dash.tools.redash_copy import (
    CreatedObjects,
    create_query_copy,
    fork_visualizations,
    query_dependencies,
    remap_query_parameters,
)

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.pool import BoundedPool

DEFAULT_PREFIX = "Copy of "


class QueryToClone(BaseModel):
    """One query the clone copies: a widget's, or one a dropdown parameter reads (``dependency``).

    :ivar target_data_source_id: the data source of the copy on the target (matched by name).
    """

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    new_name: str
    data_source: str | None
    target_data_source_id: int | None
    dependency: bool = False


class WidgetToClone(BaseModel):
    """One widget the clone copies (``visualization`` is ``TYPE 'name'``, or None for text)."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: Literal["visualization", "text"]
    query_id: int | None
    visualization: str | None
    position: dict[str, Any]


class ClonePlan(BaseModel):
    """What a clone will make; printed by ``--dry-run`` (``layout`` and ``sources`` are what it copies from)."""

    model_config = ConfigDict(frozen=True)

    source_server: str
    target_server: str
    same_server: bool
    dashboard_id: int
    dashboard_slug: str
    dashboard_name: str
    new_name: str
    queries: tuple[QueryToClone, ...]
    widgets: tuple[WidgetToClone, ...]
    layout: DashboardLayout = Field(exclude=True)
    sources: tuple[SavedQuery, ...] = Field(exclude=True)

    def describe(self) -> list[str]:
        """The plan in words, one line each."""
        where = "on the same server" if self.same_server else f"on {self.target_server}"
        lines = [f"Clone dashboard {self.dashboard_id} {self.dashboard_name!r} as {self.new_name!r} {where}:"]
        for query in self.queries:
            how = "fork" if self.same_server else f"create on data source {query.data_source!r}"
            why = " (a dropdown parameter reads it)" if query.dependency else ""
            lines.append(f"  query {query.id} {query.name!r} -> {query.new_name!r} ({how}){why}")
        for widget in self.widgets:
            shown = f"{widget.visualization} of query {widget.query_id}" if widget.kind == "visualization" else "text"
            lines.append(f"  widget {widget.id}: {shown} at {_position(widget.position)}")
        return lines


class CloneResult(BaseModel):
    """What a clone made: the new dashboard, and old id -> new id for queries, visualizations, widgets."""

    model_config = ConfigDict(frozen=True)

    dashboard_id: int
    slug: str
    url: str
    queries: dict[int, int]
    visualizations: dict[int, int]
    widgets: dict[int, int]


def plan_clone(
    source: RedashClient,
    dashboard: int | str,
    *,
    target: RedashClient | None = None,
    prefix: str = DEFAULT_PREFIX,
    name: str | None = None,
    pool: BoundedPool | None = None,
) -> ClonePlan:
    """Read what cloning ``dashboard`` needs and check that it can be done; create nothing.

    :param dashboard: numeric id or slug (any Redash version).
    :param target: the server to clone onto (default: the source server).
    :param prefix: put before each copied query's name (and the dashboard's, unless ``name``).
    :param name: the new dashboard's name.
    :raises DashConfigError: naming each data source missing on the target, or a widget whose
        visualization its query does not list.
    :raises DashNotFoundError: when the dashboard (or one of its queries) does not exist.
    """
    target = target or source
    same = target.config.base_url == source.config.base_url
    layout = source.get_dashboard_layout(dashboard)
    wanted = sorted({w.query_id for w in layout.widgets if w.query_id is not None})
    fetched = _fetch(source, wanted, pool)
    dependencies: set[int] = set()
    pending = [] if same else [d for q in fetched.values() for d in query_dependencies(q)]
    while pending:  # another server has none of the queries a dropdown reads: they are cloned too
        missing = sorted(set(pending) - set(fetched))
        dependencies.update(missing)
        fetched.update(_fetch(source, missing, pool))
        pending = [d for qid in missing for d in query_dependencies(fetched[qid])]
    for widget in layout.widgets:
        listed = {v.id for v in fetched[widget.query_id].visualizations} if widget.query_id is not None else set()
        if widget.query_id is not None and widget.visualization_id not in listed:
            raise DashConfigError(
                f"Widget {widget.id} of dashboard {layout.id} shows visualization {widget.visualization_id}, "
                f"which query {widget.query_id} does not list: cannot tell which copy to show"
            )
    data_sources = _target_data_sources(source, target, list(fetched.values())) if not same else {}
    names = {s.id: s.name for s in source.list_data_source_objects()} if not same else {}
    queries = tuple(
        QueryToClone(
            id=q.id,
            name=q.name,
            new_name=prefix + q.name,
            data_source=names.get(q.data_source_id) if q.data_source_id is not None else None,
            target_data_source_id=data_sources.get(q.id),
            dependency=q.id in dependencies,
        )
        for q in sorted(fetched.values(), key=lambda q: q.id)
    )
    visualizations = {v.id: f"{v.type} {v.name!r}" for q in fetched.values() for v in q.visualizations}
    widgets = tuple(
        WidgetToClone(
            id=w.id,
            kind="text" if w.is_text else "visualization",
            query_id=w.query_id,
            visualization=visualizations.get(w.visualization_id) if w.visualization_id is not None else None,
            position=dict(w.options.get("position") or {}),
        )
        for w in layout.widgets
    )
    return ClonePlan(
        source_server=source.config.base_url,
        target_server=target.config.base_url,
        same_server=same,
        dashboard_id=layout.id,
        dashboard_slug=layout.slug,
        dashboard_name=layout.name,
        new_name=name if name is not None else prefix + layout.name,
        queries=queries,
        widgets=widgets,
        layout=layout,
        sources=tuple(sorted(fetched.values(), key=lambda q: q.id)),
    )


def run_clone(source: RedashClient, plan: ClonePlan, *, target: RedashClient | None = None) -> CloneResult:
    """Make the copies ``plan`` describes; archive everything made if a step fails.

    :raises DashError: what stopped it (with a note of what was archived).
    """
    target = target or source
    created = CreatedObjects(target)
    try:
        return _make(source, target, plan, created)
    except BaseException as error:
        created.undo_for(error)
        raise


def _make(source: RedashClient, target: RedashClient, plan: ClonePlan, created: CreatedObjects) -> CloneResult:
    new_queries: dict[int, SavedQuery] = {}
    visualizations: dict[int, int] = {}
    for query, entry in zip(plan.sources, plan.queries, strict=True):
        if plan.same_server:
            fork = target.fork_query(query.id)
            created.query(fork.id)
            visualizations.update(fork_visualizations(query, fork))
            new_queries[query.id] = target.edit_saved_query(fork.id, name=entry.new_name, is_draft=query.is_draft)
        else:
            assert entry.target_data_source_id is not None
            new, mapping = create_query_copy(
                target,
                created,
                name=entry.new_name,
                sql=query.query,
                data_source_id=entry.target_data_source_id,
                description=query.description,
                options=query.options,
                tags=query.tags,
                visualizations=query.visualizations,
                publish=not query.is_draft,
            )
            new_queries[query.id] = new
            visualizations.update(mapping)
    new_ids = {old: new.id for old, new in new_queries.items()}
    for _old, new in new_queries.items():
        options = remap_query_parameters(new.options, new_ids)
        if options is not None:
            target.edit_saved_query(new.id, options=options)
    layout = plan.layout
    dashboard = target.create_dashboard(plan.new_name)
    created.dashboard(dashboard.id)
    widgets: dict[int, int] = {}
    for widget in layout.widgets:
        shown = widget.visualization_id
        made = target.create_widget(
            WidgetToCreate(
                dashboard_id=dashboard.id,
                visualization_id=visualizations[shown] if shown is not None else None,
                text=widget.text,
                width=widget.width,
                options=copy.deepcopy(widget.options),
            )
        )
        widgets[widget.id] = made.id
    changes: dict[str, Any] = {"dashboard_filters_enabled": layout.dashboard_filters_enabled}
    if layout.tags:
        changes["tags"] = list(layout.tags)
    if not layout.is_draft:
        changes["is_draft"] = False
    final = target.edit_dashboard(dashboard.id, **changes)
    return CloneResult(
        dashboard_id=final.id,
        slug=final.slug,
        url=dashboard_page_url(target.config.base_url, final.id, final.slug),
        queries=new_ids,
        visualizations=visualizations,
        widgets=widgets,
    )


def _fetch(client: RedashClient, ids: list[int], pool: BoundedPool | None) -> dict[int, SavedQuery]:
    if pool is None:
        return {qid: client.get_saved_query(qid) for qid in ids}
    client.ensure_connections(pool.workers)
    return {query.id: query for query in pool.map_ordered(client.get_saved_query, ids)}


def _target_data_sources(source: RedashClient, target: RedashClient, queries: list[SavedQuery]) -> dict[int, int]:
    """Query id -> the id of the data source of the same name on the target.

    :raises DashConfigError: naming every data source missing (or ambiguous) there, before anything is made.
    """
    names = {s.id: s.name for s in source.list_data_source_objects()}
    on_target: dict[str, list[int]] = {}
    for data_source in target.list_data_source_objects():
        on_target.setdefault(data_source.name, []).append(data_source.id)
    problems: list[str] = []
    mapping: dict[int, int] = {}
    for query in queries:
        name = names.get(query.data_source_id) if query.data_source_id is not None else None
        found = on_target.get(name, []) if name is not None else []
        if name is None:
            problems.append(f"query {query.id}: its data source {query.data_source_id} is hidden from the source key")
        elif not found:
            problems.append(f"query {query.id}: no data source named {name!r}")
        elif len(found) > 1:
            problems.append(f"query {query.id}: {len(found)} data sources named {name!r}")
        else:
            mapping[query.id] = found[0]
    if problems:
        raise DashConfigError(
            f"Cannot clone onto {target.config.base_url} (data sources are matched by name; available: "
            f"{', '.join(repr(n) for n in sorted(on_target)) or 'none'}): "
            + "; ".join(problems)
            + ". Nothing was created."
        )
    return mapping


def _position(position: dict[str, Any]) -> str:
    keys = ("col", "row", "sizeX", "sizeY")
    return ", ".join(f"{key} {position[key]}" for key in keys if key in position) or "no position"
