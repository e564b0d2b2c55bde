"""Redash models the tools need: whole saved queries, visualizations, data sources, dashboards as laid out.

Frozen pydantic v2 models of what a Redash server sends (and of the few bodies the tools send back),
parsed at the edge with :func:`parse`: a malformed answer raises
:class:`~airflow_provider_dash.exceptions.DashResponseError` naming the object and the field, never
a ``ValidationError``. Unknown fields are ignored; a query's own API key is never kept (it is a
secret).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from airflow_provider_dash.exceptions import DashResponseError

_M = TypeVar("_M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def parse(model: type[_M], body: Any, what: str) -> _M:
    """Parse ``body`` as ``model``.

    :param what: the object, as error texts name it ("query 7", "dashboard 'sales'").
    :raises DashResponseError: naming ``what``, the field and what was expected.
    """
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(the whole object)"
        got = type(first.get("input")).__name__
        raise DashResponseError(f"The server's {what} has a bad field {field!r}: {first['msg']} (got {got})") from None


class Visualization(_Model):
    """A visualization of a saved query (``type`` TABLE, CHART, COUNTER...; ``options`` as Redash keeps them)."""

    id: int
    type: str
    name: str = ""
    description: str | None = ""
    options: dict[str, Any] = Field(default_factory=dict)


class SavedQuery(_Model):
    """A saved query as the list and ``GET /api/queries/<id>`` send it (``visualizations`` only in the latter).

    :ivar query: the SQL text.
    :ivar options: Redash's options, ``parameters`` (the definitions, with saved values) included.
    :ivar schedule: Redash's refresh schedule (``interval``, ``time``, ``day_of_week``, ``until``) or None.
    :ivar updated_at: when the query was last saved (ISO text, the server's clock).
    """

    id: int
    name: str = ""
    description: str | None = None
    query: str = ""
    data_source_id: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    schedule: dict[str, Any] | None = None
    is_archived: bool = False
    is_draft: bool = False
    version: int = 1
    updated_at: str | None = None
    latest_query_data_id: int | None = None
    visualizations: tuple[Visualization, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_empty(cls, data: Any) -> Any:
        # Redash sends null for an empty description, options or tags in some answers.
        if isinstance(data, dict):
            data = {**data, "options": data.get("options") or {}, "tags": data.get("tags") or []}
        return data

    @property
    def parameters(self) -> list[dict[str, Any]]:
        """The parameter definitions (``options.parameters``), as saved."""
        raw = self.options.get("parameters")
        return [p for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []


class DataSource(_Model):
    """A data source: ``type`` is Redash's runner name (``pg``, ``bigquery``...). Options are not kept."""

    id: int
    name: str
    type: str = ""


class WidgetLayout(_Model):
    """A dashboard widget as laid out: its visualization (``None`` for a text widget), text, width and options.

    :ivar options: Redash's widget options: ``position`` (col, row, sizeX, sizeY...),
        ``parameterMappings``, ``isHidden``.
    :ivar query_id: the query of the visualization, if any.
    """

    id: int
    width: int = 1
    text: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    visualization_id: int | None = None
    query_id: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_visualization(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat = {**data, "text": data.get("text") or "", "options": data.get("options") or {}}
        visualization = data.get("visualization")
        if isinstance(visualization, dict):
            flat["visualization_id"] = visualization.get("id")
            query = visualization.get("query")
            flat["query_id"] = query.get("id") if isinstance(query, dict) else None
        elif visualization is not None:
            flat["visualization_id"] = visualization  # not an object: the field check names it
        return flat

    @property
    def is_text(self) -> bool:
        """True for a text widget (no visualization)."""
        return self.visualization_id is None


class DashboardLayout(_Model):
    """A dashboard with its widgets as laid out (``widgets`` is empty in list answers, where Redash sends null)."""

    id: int
    slug: str = ""
    name: str = ""
    tags: tuple[str, ...] = ()
    is_draft: bool = False
    is_archived: bool = False
    dashboard_filters_enabled: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
    widgets: tuple[WidgetLayout, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _flat_widgets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        raw = data.get("widgets") or []
        flat = raw
        if isinstance(raw, list):
            # The public docs say an array of arrays; real servers send a flat list. Accept both.
            flat = [w for item in raw for w in (item if isinstance(item, list) else [item])]
        return {**data, "widgets": flat, "tags": data.get("tags") or [], "options": data.get("options") or {}}


class WidgetToCreate(_Model):
    """The body of ``POST /api/widgets`` (recorded in ``visualization_and_widget_edit.json``).

    :ivar visualization_id: the visualization to show, ``None`` for a text widget.
    :ivar options: ``position``, ``parameterMappings``, ``isHidden``.
    """

    dashboard_id: int
    visualization_id: int | None
    text: str = ""
    width: int = 1
    options: dict[str, Any] = Field(default_factory=dict)


class QueryExportRecord(_Model):
    """One query in an export's manifest: where its file is and what it held when written.

    :ivar file: the file's name, relative to the export folder.
    :ivar updated_at: the query's ``updated_at`` when its file was written.
    :ivar fingerprint: a hash of the listed metadata (name, data source, parameters...), so a change
        the server does not date (a renamed data source) still rewrites the file.
    :ivar sha256: the file's own hash, so a file changed or lost since is rewritten.
    :ivar deleted: the query has gone from the server and its file is kept (``keep_deleted``).
    """

    id: int
    name: str
    file: str
    updated_at: str | None = None
    fingerprint: str
    sha256: str
    deleted: bool = False
