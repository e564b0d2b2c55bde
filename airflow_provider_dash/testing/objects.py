"""The Redash emulator's saved objects (data sources, queries, visualizations, dashboards, widgets)
and how Redash serialises each of them in each kind of answer."""

from __future__ import annotations

import copy
import datetime as dt
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import parameters as params
from .redash_sql import query_hash
from .redash_time import iso_ms, utcnow

if TYPE_CHECKING:
    from .redash_sql import ResultMeta

ADMIN_EMAIL = "admin@example.com"
AVATAR = "https://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=40&d=identicon"
_USER_CREATED = dt.datetime(2026, 1, 1, 0, 0, 0)


def slugify(name: str) -> str:
    """:return: Redash's slug of a dashboard name (``Sales Overview (renamed)`` ->
    ``sales-overview-renamed-``)."""
    return re.sub(r"[^a-z0-9_\-]+", "-", name.lower())


def new_api_key() -> str:
    """:return: a random 40-character API key."""
    return secrets.token_hex(20)


@dataclass
class DataSource:
    """An emulated data source (every one reads the emulator's SQLite database)."""

    id: int
    name: str
    type: str = "pg"
    options: dict[str, Any] = field(default_factory=dict)

    def _head(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "syntax": "sql",
            "paused": 0,
            "pause_reason": None,
            "supports_auto_limit": True,
        }

    def list_json(self) -> dict[str, Any]:
        """:return: the item of ``GET /api/data_sources``."""
        return {**self._head(), "view_only": False}

    def full_json(self) -> dict[str, Any]:
        """:return: the answer of create/get: options with the password masked."""
        opts = dict(self.options)
        if "password" in opts:
            opts["password"] = "--------"
        return {
            **self._head(),
            "options": opts,
            "queue_name": "queries",
            "scheduled_queue_name": "scheduled_queries",
            "groups": {"2": False},
        }


@dataclass
class Visualization:
    """A visualization of a query (each query gets a TABLE one when created)."""

    id: int
    query_id: int
    type: str = "TABLE"
    name: str = "Table"
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)

    def to_json(self) -> dict[str, Any]:
        """:return: the visualization object (without its query)."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "options": copy.deepcopy(self.options),
            "updated_at": iso_ms(self.updated_at),
            "created_at": iso_ms(self.created_at),
        }


@dataclass
class Query:
    """A saved query."""

    id: int
    name: str
    query: str
    data_source_id: int = 1
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    schedule: dict[str, Any] | None = None
    is_draft: bool = True
    is_archived: bool = False
    version: int = 1
    latest_query_data_id: int | None = None
    api_key: str = field(default_factory=new_api_key)
    delay: float | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)

    @property
    def parameters(self) -> list[dict[str, Any]]:
        """:return: the parameter definitions in ``options.parameters``."""
        return list(self.options.get("parameters") or [])

    @property
    def query_hash(self) -> str:
        """:return: the hash of the saved text."""
        return query_hash(self.query)


@dataclass
class Widget:
    """A dashboard widget: a visualization, or text when ``visualization_id`` is None."""

    id: int
    dashboard_id: int
    visualization_id: int | None
    text: str = ""
    width: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)


@dataclass
class Dashboard:
    """A dashboard."""

    id: int
    name: str
    slug: str
    is_draft: bool = True
    is_archived: bool = False
    version: int = 1
    tags: list[str] = field(default_factory=list)
    layout: list[Any] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    dashboard_filters_enabled: bool = False
    created_at: dt.datetime = field(default_factory=utcnow)
    updated_at: dt.datetime = field(default_factory=utcnow)


def _full_user(now: dt.datetime) -> dict[str, Any]:
    return {
        "id": 1,
        "name": "Admin",
        "email": ADMIN_EMAIL,
        "profile_image_url": AVATAR,
        "groups": [1, 2],
        "updated_at": iso_ms(now),
        "created_at": iso_ms(_USER_CREATED),
        "disabled_at": None,
        "is_disabled": False,
        "active_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "is_invitation_pending": False,
        "is_email_verified": True,
        "auth_type": "password",
    }


def _short_user() -> dict[str, Any]:
    return {"id": 1, "name": "Admin", "email": ADMIN_EMAIL, "profile_image_url": AVATAR}


class ObjectStore:
    """Every saved object, with id sequences. Thread-safe (one re-entrant lock)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.data_sources: dict[int, DataSource] = {}
        self.queries: dict[int, Query] = {}
        self.visualizations: dict[int, Visualization] = {}
        self.dashboards: dict[int, Dashboard] = {}
        self.widgets: dict[int, Widget] = {}
        self._next: dict[str, int] = {"ds": 1, "q": 1, "v": 1, "d": 1, "w": 1}
        self.result_lookup: Any = None  # set by the emulator: result id -> ResultMeta | None

    def next_id(self, kind: str) -> int:
        """:return: the next id of ``kind`` (ds, q, v, d, w)."""
        with self.lock:
            value = self._next[kind]
            self._next[kind] = value + 1
            return value

    # -- creation ----------------------------------------------------------------------------
    def add_data_source(self, name: str, type_: str = "pg", options: dict[str, Any] | None = None) -> DataSource:
        """:return: a new data source."""
        with self.lock:
            ds = DataSource(self.next_id("ds"), name, type_, dict(options or {}))
            self.data_sources[ds.id] = ds
            return ds

    def add_query(self, name: str, sql: str, data_source_id: int = 1, **fields: Any) -> Query:
        """:return: a new query with its default TABLE visualization."""
        with self.lock:
            q = Query(id=self.next_id("q"), name=name, query=sql, data_source_id=data_source_id, **fields)
            self.queries[q.id] = q
            self.add_visualization(q.id)
            return q

    def fork_query(self, source: Query) -> Query:
        """:return: a draft copy of ``source`` with copies of its visualizations (as Redash forks)."""
        with self.lock:
            fork = Query(
                id=self.next_id("q"),
                name=f"Copy of (#{source.id}) {source.name}",
                query=source.query,
                data_source_id=source.data_source_id,
                description=source.description,
                options=copy.deepcopy(source.options),
                tags=list(source.tags),
                latest_query_data_id=source.latest_query_data_id,  # Redash's fork copies the latest result too
            )
            self.queries[fork.id] = fork
            for viz in sorted(self.visualizations.values(), key=lambda v: v.id):
                if viz.query_id == source.id:
                    self.add_visualization(
                        fork.id,
                        type=viz.type,
                        name=viz.name,
                        description=viz.description,
                        options=copy.deepcopy(viz.options),
                    )
            return fork

    def add_visualization(self, query_id: int, **fields: Any) -> Visualization:
        """:return: a new visualization of ``query_id``."""
        with self.lock:
            v = Visualization(id=self.next_id("v"), query_id=query_id, **fields)
            self.visualizations[v.id] = v
            return v

    def add_dashboard(self, name: str, **fields: Any) -> Dashboard:
        """:return: a new dashboard (slug made unique like Redash does)."""
        with self.lock:
            slug = fields.pop("slug", None) or self.unique_slug(name)
            d = Dashboard(id=self.next_id("d"), name=name, slug=slug, **fields)
            self.dashboards[d.id] = d
            return d

    def unique_slug(self, name: str, exclude: int | None = None) -> str:
        """:return: the slug of ``name``, suffixed ``_N`` if another dashboard has it."""
        base = slugify(name)
        taken = {d.slug for d in self.dashboards.values() if d.id != exclude}
        slug, n = base, 1
        while slug in taken:
            slug, n = f"{base}_{n}", n + 1
        return slug

    def add_widget(self, dashboard_id: int, visualization_id: int | None, **fields: Any) -> Widget:
        """:return: a new widget on ``dashboard_id``."""
        with self.lock:
            w = Widget(id=self.next_id("w"), dashboard_id=dashboard_id, visualization_id=visualization_id, **fields)
            self.widgets[w.id] = w
            return w

    def note_result(self, meta: ResultMeta) -> None:
        """Make ``meta`` the latest result of every query with the same text on its data source."""
        with self.lock:
            for query in self.queries.values():
                if query.data_source_id == meta.data_source_id and query.query_hash == meta.query_hash:
                    query.latest_query_data_id = meta.id

    # -- serialisers -------------------------------------------------------------------------
    def _query_base(self, q: Query) -> dict[str, Any]:
        return {
            "id": q.id,
            "latest_query_data_id": q.latest_query_data_id,
            "name": q.name,
            "description": q.description,
            "query": q.query,
            "query_hash": q.query_hash,
            "schedule": copy.deepcopy(q.schedule),
            "api_key": q.api_key,
            "is_archived": q.is_archived,
            "is_draft": q.is_draft,
            "updated_at": iso_ms(q.updated_at),
            "created_at": iso_ms(q.created_at),
            "data_source_id": q.data_source_id,
            "options": copy.deepcopy(q.options),
            "version": q.version,
            "tags": list(q.tags),
            "is_safe": params.is_safe(q.parameters),
            "user": _full_user(q.updated_at),
        }

    def query_json(self, q: Query, kind: str = "full") -> dict[str, Any]:
        """:return: ``q`` as Redash shows it in a ``kind`` answer: ``full`` (GET by id),
        ``saved`` (create/edit), ``list`` (list items) or ``widget`` (inside a widget)."""
        out = self._query_base(q)
        if kind == "list":
            meta = self.result_lookup(q.latest_query_data_id) if q.latest_query_data_id else None
            out["last_modified_by_id"] = 1
            out["retrieved_at"] = iso_ms(meta.retrieved_at) if meta else None
            out["runtime"] = meta.runtime if meta else None
            out["is_favorite"] = False
            return out
        out["last_modified_by"] = _full_user(q.updated_at)
        if kind == "widget":
            return out
        out["visualizations"] = [
            v.to_json() for v in sorted(self.visualizations.values(), key=lambda v: v.id) if v.query_id == q.id
        ]
        out["is_favorite"] = False
        if kind == "full":
            out["can_edit"] = True
        return out

    def widget_json(self, w: Widget) -> dict[str, Any]:
        """:return: the widget with its visualization and query (text widgets have none)."""
        out: dict[str, Any] = {
            "id": w.id,
            "width": w.width,
            "options": copy.deepcopy(w.options),
            "dashboard_id": w.dashboard_id,
            "text": w.text,
            "updated_at": iso_ms(w.updated_at),
            "created_at": iso_ms(w.created_at),
        }
        viz = self.visualizations.get(w.visualization_id) if w.visualization_id is not None else None
        if viz is not None:
            vj = viz.to_json()
            vj["updated_at"] = iso_ms(w.updated_at)
            q = self.queries.get(viz.query_id)
            if q is not None:
                vj["query"] = self.query_json(q, "widget")
            out["visualization"] = vj
        return out

    def dashboard_json(self, d: Dashboard, with_widgets: bool = False, can_edit: bool = False) -> dict[str, Any]:
        """:return: the dashboard; ``widgets`` is null unless ``with_widgets``."""
        widgets = None
        if with_widgets:
            widgets = [
                self.widget_json(w) for w in sorted(self.widgets.values(), key=lambda w: w.id) if w.dashboard_id == d.id
            ]
        out: dict[str, Any] = {
            "id": d.id,
            "slug": d.slug,
            "name": d.name,
            "user_id": 1,
            "user": _short_user(),
            "layout": list(d.layout),
            "dashboard_filters_enabled": d.dashboard_filters_enabled,
            "widgets": widgets,
            "options": copy.deepcopy(d.options),
            "is_archived": d.is_archived,
            "is_draft": d.is_draft,
            "tags": list(d.tags),
            "updated_at": iso_ms(d.updated_at),
            "created_at": iso_ms(d.created_at),
            "version": d.version,
            "is_favorite": False,
        }
        if can_edit:
            out["can_edit"] = True
        return out
