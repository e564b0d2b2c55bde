"""Typed, immutable views of what PostHog's Endpoints API sends (frozen pydantic v2 models), both generations.

Parse at the edge: :func:`parse` turns a ``ValidationError`` into :class:`DashResponseError` naming
the object and the field, so the rest of the code never touches raw dicts. Unknown keys are ignored
(REFERENCE.md §2.6: clients must ignore them). G1 and G3 differences are absorbed here: versions
are ``endpoint_version`` (G3) or ``_version`` (G1.5), lists are pages (G3) or bare (G1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from airflow_provider_dash.exceptions import DashResponseError

HOGQL = "HogQLQuery"
#: Variables every non-materialized insight endpoint accepts besides its breakdowns (§2.6, §5).
INSIGHT_DATE_VARIABLES = ("date_from", "date_to")

_Frozen = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], data: Any, what: str) -> Model:
    """``data`` as ``model``.

    :param what: what the answer was about, for the error ("endpoint 'daily_signups'").
    :raises DashResponseError: naming the object, the field and what was wrong with it.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(the whole object)"
        shown = repr(first.get("input"))[:120]
        raise DashResponseError(
            f"PostHog's answer for {what} is not a valid {model.__name__}: field {where!r}: {first['msg']} "
            f"(got {shown})"
        ) from None


class EndpointVariable(BaseModel):
    """One variable of a HogQL endpoint (an entry of ``query.variables``)."""

    model_config = _Frozen
    code_name: str
    variable_id: str | None = Field(default=None, validation_alias=AliasChoices("variableId", "variable_id"))
    value: Any = None
    is_null: bool = Field(default=False, validation_alias=AliasChoices("isNull", "is_null"))


class EndpointColumn(BaseModel):
    """A column of an endpoint or of a result: its name and PostHog's (or ClickHouse's) type."""

    model_config = _Frozen
    name: str
    type: str = ""


class Endpoint(BaseModel):
    """An endpoint as retrieve/list/create/update show it (G3 ``EndpointResponse``, or a G1 object).

    With ``?version=N`` (G3) it is the endpoint seen through that version: ``version`` is set and
    ``is_active``/``query``/``is_materialized`` are the version's.
    """

    model_config = _Frozen
    name: str
    id: str | None = None
    description: str | None = ""
    query: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    is_materialized: bool = False
    current_version: int | None = None
    versions_count: int | None = None
    version: int | None = None
    endpoint_is_active: bool | None = None
    ui_url: str | None = None
    columns: tuple[EndpointColumn, ...] = ()
    data_freshness_seconds: int | None = None
    cache_age_seconds: int | None = None
    optional_breakdown_properties: tuple[str, ...] = ()
    last_executed_at: dt.datetime | None = None

    @property
    def generation(self) -> str:
        """``"g3"`` when the object has G3's fields (``data_freshness_seconds``), else ``"g1"``."""
        return "g3" if self.data_freshness_seconds is not None else "g1"

    @property
    def is_hogql(self) -> bool:
        """A HogQL endpoint (else an insight: trends, funnels, ...)."""
        return self.query.get("kind") == HOGQL

    @property
    def variables(self) -> tuple[EndpointVariable, ...]:
        """The HogQL variables, in the stored order (malformed entries skipped)."""
        raw = self.query.get("variables")
        if not isinstance(raw, Mapping):
            return ()
        found = []
        for entry in raw.values():
            if isinstance(entry, Mapping) and isinstance(entry.get("code_name"), str):
                found.append(EndpointVariable.model_validate(entry))
        return tuple(found)

    @property
    def breakdown_properties(self) -> tuple[str, ...]:
        """An insight's breakdown property names (its run variables, §5)."""
        found: list[str] = []
        breakdown = self.query.get("breakdownFilter")
        if isinstance(breakdown, Mapping):
            single = breakdown.get("breakdown")
            for item in single if isinstance(single, list) else [single]:
                if isinstance(item, str) and item:
                    found.append(item)
            for item in breakdown.get("breakdowns") or []:
                if isinstance(item, Mapping) and isinstance(item.get("property"), str):
                    found.append(item["property"])
        return tuple(found)


class EndpointVersion(BaseModel):
    """One version of an endpoint (G3: an ``EndpointVersionResponse``; G1: ``{id, version, query, created_at}``)."""

    model_config = _Frozen
    version: int
    id: str | None = Field(default=None, validation_alias=AliasChoices("version_id", "id"))
    query: dict[str, Any] = Field(default_factory=dict)
    is_active: bool | None = None
    description: str | None = None
    created_at: dt.datetime | None = Field(
        default=None, validation_alias=AliasChoices("version_created_at", "created_at")
    )


class ListPage(BaseModel):
    """A DRF limit/offset page (G3) or G1's unpaged ``{"results": [...]}`` (then ``count`` is ``None``)."""

    model_config = _Frozen
    results: list[Any]
    count: int | None = None
    next: str | None = None


class QueryStatus(BaseModel):
    """``query_status`` of ``GET /query/{id}`` (and of G1's 202 runs)."""

    model_config = _Frozen
    id: str = ""
    complete: bool = False
    error: bool = False
    error_message: str | None = None
    results: Any = None


class EndpointRun(BaseModel):
    """One run's answer (§2.6): rows, columns, paging, cache and version facts.

    Insight endpoints return the insight's own result shape (series objects) in ``results``.
    """

    model_config = _Frozen
    results: list[Any]
    columns: tuple[str, ...] | None = None
    types: tuple[tuple[str, str], ...] | None = None
    has_more: bool = Field(default=False, validation_alias=AliasChoices("hasMore", "has_more"))
    is_cached: bool = False
    last_refresh: dt.datetime | None = None
    execution_id: str | None = None
    name: str | None = None
    endpoint_version: int | None = Field(default=None, validation_alias=AliasChoices("endpoint_version", "_version"))
    query_status: QueryStatus | None = None

    @property
    def row_count(self) -> int:
        """Rows in this answer (items of ``results``)."""
        return len(self.results)

    def column_list(self) -> tuple[EndpointColumn, ...]:
        """The columns with their types (from ``types`` where given)."""
        types = dict(self.types or ())
        return tuple(EndpointColumn(name=name, type=types.get(name, "")) for name in self.columns or ())

    def row_dicts(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}`` (an insight's items as they are, or as ``{"value": item}``)."""
        names = self.columns
        if names:
            return [dict(zip(names, row, strict=False)) for row in self.results]
        return [dict(item) if isinstance(item, Mapping) else {"value": item} for item in self.results]


@dataclass(frozen=True)
class EndpointResult:
    """Every row of one endpoint run (all its pages), shaped for the data-quality checks
    (:class:`airflow_provider_dash.checks.ResultTable`: ``columns`` with ``.name``, ``rows`` as mappings).

    :param endpoint: the endpoint's name.
    :param columns: the result's columns.
    :param rows: the rows as ``{column: value}``.
    :param version: the endpoint version that answered.
    :param execution_ids: PostHog's execution id of each page.
    """

    endpoint: str
    columns: tuple[EndpointColumn, ...]
    rows: Sequence[Mapping[str, Any]]
    version: int | None = None
    execution_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def row_count(self) -> int:
        """How many rows."""
        return len(self.rows)

    @classmethod
    def from_runs(cls, endpoint: str, runs: Iterable[EndpointRun]) -> EndpointResult:
        """Every row of ``runs`` (the pages of one run), in order."""
        rows: list[dict[str, Any]] = []
        columns: tuple[EndpointColumn, ...] = ()
        version = None
        ids: list[str] = []
        for run in runs:
            columns = columns or run.column_list()
            rows += run.row_dicts()
            version = run.endpoint_version if run.endpoint_version is not None else version
            ids += [run.execution_id] if run.execution_id else []
        return cls(endpoint, columns, rows, version, tuple(ids))


def last_execution_times(data: Any) -> dict[str, dt.datetime]:
    """``{name: last executed at}`` from the QueryStatusResponse wrapper of ``last_execution_times`` (§2.9).

    :raises DashResponseError: when the answer has another shape.
    """
    status = parse(_Wrapper, data, "last_execution_times").query_status
    out: dict[str, dt.datetime] = {}
    for item in status.results or []:
        pair = parse(
            _NameTime,
            {"name": item[0], "at": item[1]} if isinstance(item, list) and len(item) == 2 else item,
            "last_execution_times entry",
        )
        out[pair.name] = pair.at
    return out


class _TimesStatus(BaseModel):
    model_config = _Frozen
    results: list[Any] | None = None


class _Wrapper(BaseModel):
    model_config = _Frozen
    query_status: _TimesStatus


class _NameTime(BaseModel):
    model_config = _Frozen
    name: str
    at: dt.datetime


@dataclass
class RunSummary:
    """What a run (all its pages) came to, small enough for XCom and a trigger event: never the rows.

    :param endpoint: the endpoint's name.
    :param client_query_id: the run's tag on the server.
    """

    endpoint: str
    client_query_id: str = ""
    columns: list[str] = field(default_factory=list)
    row_count: int = 0
    pages: int = 0
    version: int | None = None
    execution_ids: list[str] = field(default_factory=list)
    cached_pages: int = 0
    has_more: bool = False
    last_refresh: str | None = None
    #: Whether the run could page (a HogQL endpoint on a G3 server): how to read it again.
    paged: bool = True

    def add(self, run: EndpointRun) -> None:
        """Account for one page."""
        self.columns = self.columns or list(run.columns or ())
        self.row_count += run.row_count
        self.pages += 1
        self.version = run.endpoint_version if run.endpoint_version is not None else self.version
        if run.execution_id:
            self.execution_ids.append(run.execution_id)
        self.cached_pages += 1 if run.is_cached else 0
        self.has_more = run.has_more
        if run.last_refresh is not None:
            self.last_refresh = run.last_refresh.isoformat()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: ``endpoint, columns, row_count, pages, version, execution_id(s), is_cached, has_more``."""
        return {
            "endpoint": self.endpoint,
            "columns": list(self.columns),
            "row_count": self.row_count,
            "pages": self.pages,
            "version": self.version,
            "execution_id": self.execution_ids[0] if len(self.execution_ids) == 1 else None,
            "execution_ids": list(self.execution_ids),
            "is_cached": self.pages > 0 and self.cached_pages == self.pages,
            "has_more": self.has_more,
            "last_refresh": self.last_refresh,
            "client_query_id": self.client_query_id,
            "paged": self.paged,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        """Rebuild from :meth:`to_json` (a trigger event).

        :raises DashResponseError: naming the field when the event does not have that shape.
        """
        try:
            pages = int(data["pages"])
            cached = pages if data.get("is_cached") else 0
            return cls(
                endpoint=str(data["endpoint"]),
                client_query_id=str(data.get("client_query_id") or ""),
                columns=[str(c) for c in data.get("columns") or []],
                row_count=int(data["row_count"]),
                pages=pages,
                version=data.get("version"),
                execution_ids=[str(e) for e in data.get("execution_ids") or []],
                cached_pages=cached,
                has_more=bool(data.get("has_more")),
                last_refresh=data.get("last_refresh"),
                paged=bool(data.get("paged", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DashResponseError(f"The run summary in the trigger event is malformed ({exc!r}): {data!r}") from None
