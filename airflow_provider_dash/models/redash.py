"""Redash models: typed, immutable views of what a Redash server sends, and the one text for a failed job.

Everything the server answers is parsed here, at the edge, so no other module touches raw dicts.
A malformed answer raises :class:`~airflow_provider_dash.exceptions.DashResponseError`, never a
``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dash.exceptions import DashJobCancelledError, DashJobFailedError, DashResponseError

#: Redash's text for a job cancelled through ``DELETE /api/jobs/<id>`` (it reports status 4, not 5).
CANCELLED_ERROR_TEXT = "Query cancelled by user."


class JobStatus(enum.IntEnum):
    """Redash job status codes."""

    QUEUED = 1
    STARTED = 2
    FINISHED = 3
    FAILED = 4
    CANCELLED = 5

    @property
    def is_terminal(self) -> bool:
        """True for FINISHED, FAILED and CANCELLED."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED})
NON_TERMINAL_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.STARTED})


def _need(obj: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(obj, Mapping):
        raise DashResponseError(f"Expected a JSON object for {what}, got {type(obj).__name__}")
    if key not in obj:
        raise DashResponseError(f"The server's {what} has no {key!r} field")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise DashResponseError(f"The server's {what} field {key!r} is {type(value).__name__}, not {_kind_name(kind)}")
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str, default: Any = None) -> Any:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise DashResponseError(f"The server's {what} field {key!r} is {type(value).__name__}, not {_kind_name(kind)}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DashResponseError(f"Expected a JSON object for {what}, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Job:
    """One Redash job (``{"job": {...}}``).

    :ivar id: job id (a UUID string).
    :ivar status: the job's :class:`JobStatus`.
    :ivar error: Redash's error text ("" when none).
    :ivar query_result_id: the result id once FINISHED, else ``None``.
    """

    id: str
    status: JobStatus
    error: str = ""
    query_result_id: int | None = None
    updated_at: str | int | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the job will not change any more."""
        return self.status.is_terminal

    @property
    def started_at(self) -> float | None:
        """When a running job started (epoch seconds, the server's clock), else ``None``.

        Redash shows a running job's start time in ``updated_at`` (ISO, UTC, no ``Z``) and ``0``
        in every other state.
        """
        if self.status is not JobStatus.STARTED or not isinstance(self.updated_at, str):
            return None
        try:
            moment = dt.datetime.fromisoformat(self.updated_at.strip().removesuffix("Z"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()

    @property
    def is_cancelled(self) -> bool:
        """True for status 5, and for status 4 with Redash's cancellation text."""
        return self.status is JobStatus.CANCELLED or (
            self.status is JobStatus.FAILED and self.error.strip() == CANCELLED_ERROR_TEXT
        )

    @property
    def is_failed(self) -> bool:
        """True for status 4 that is not a cancellation."""
        return self.status is JobStatus.FAILED and not self.is_cancelled

    @property
    def succeeded(self) -> bool:
        """True when FINISHED with a result id."""
        return self.status is JobStatus.FINISHED and self.query_result_id is not None

    @classmethod
    def from_json(cls, body: Any) -> Job:
        """Parse ``{"job": {...}}`` or the inner job object.

        :raises DashResponseError: when the body is not a job.
        """
        data = _obj(body, "job answer")
        if "job" in data:
            data = _obj(data["job"], "job")
        job_id = _need(data, "id", str, "job")
        raw_status = _need(data, "status", int, "job")
        try:
            status = JobStatus(raw_status)
        except ValueError:
            raise DashResponseError(f"Job {job_id} has unknown status {raw_status!r}") from None
        result_id = _opt(data, "query_result_id", int, "job")
        if result_id is None:
            result_id = _opt(data, "result", int, "job")
        if status is JobStatus.FINISHED and result_id is None:
            raise DashResponseError(f"Job {job_id} is finished but names no query_result_id")
        error = data.get("error") or ""
        if not isinstance(error, str):
            error = str(error)
        return cls(
            id=job_id,
            status=status,
            error=error,
            query_result_id=result_id,
            updated_at=data.get("updated_at"),
        )


@dataclass(frozen=True, slots=True)
class Column:
    """One result column. ``type`` is ``None`` for text columns on a real server."""

    name: str
    friendly_name: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A stored query result (``{"query_result": {...}}``).

    :ivar rows: the rows as read-only mappings of column name to value.
    """

    id: int
    query_hash: str | None
    query_text: str
    data_source_id: int | None
    runtime: float | None
    retrieved_at: str | None
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...] = field(repr=False)

    @property
    def row_count(self) -> int:
        """Number of rows."""
        return len(self.rows)

    @classmethod
    def from_json(cls, body: Any) -> QueryResult:
        """Parse ``{"query_result": {...}}`` or the inner object.

        :raises DashResponseError: when the body is not a query result.
        """
        data = _obj(body, "query result answer")
        if "query_result" in data:
            data = _obj(data["query_result"], "query_result")
        result_id = _need(data, "id", int, "query_result")
        payload = _obj(data.get("data") or {}, "query_result data")
        raw_columns = _opt(payload, "columns", list, "query_result data", [])
        columns = []
        for col in raw_columns:
            col = _obj(col, "column")
            columns.append(
                Column(
                    name=str(_need(col, "name", (str, int), "column")),
                    friendly_name=col.get("friendly_name") if isinstance(col.get("friendly_name"), str) else None,
                    type=col.get("type") if isinstance(col.get("type"), str) else None,
                )
            )
        raw_rows = _opt(payload, "rows", list, "query_result data", [])
        rows = tuple(_obj(r, "row") for r in raw_rows)
        runtime = data.get("runtime")
        return cls(
            id=result_id,
            query_hash=_opt(data, "query_hash", str, "query_result"),
            query_text=_opt(data, "query", str, "query_result", ""),
            data_source_id=_opt(data, "data_source_id", int, "query_result"),
            runtime=float(runtime) if isinstance(runtime, (int, float)) and not isinstance(runtime, bool) else None,
            retrieved_at=_opt(data, "retrieved_at", str, "query_result"),
            columns=tuple(columns),
            rows=rows,
        )


@dataclass(frozen=True, slots=True)
class QueryRun:
    """What executing a query answered: either a cached result or a job to wait on.

    Exactly one of ``result`` and ``job`` is set.
    """

    result: QueryResult | None = None
    job: Job | None = None
    #: The job was already running before this request reached the server: Redash handed this run
    #: the job of an identical run in flight, so it is not this caller's to cancel. ``None`` when it
    #: could not be told (the job is then treated as the caller's). See ``hooks._api.job_is_shared``.
    shared: bool | None = False

    @property
    def is_cached(self) -> bool:
        """True when the server answered with a result at once."""
        return self.result is not None

    @property
    def query_result_id(self) -> int | None:
        """The result id if the answer was a cached result, or a job already finished."""
        if self.result is not None:
            return self.result.id
        if self.job is not None and self.job.succeeded:
            return self.job.query_result_id
        return None

    @classmethod
    def from_json(cls, body: Any) -> QueryRun:
        """Parse the answer of ``POST /api/queries/<id>/results`` or ``POST /api/query_results``.

        :raises DashResponseError: when the body holds neither ``query_result`` nor ``job``.
        """
        data = _obj(body, "execution answer")
        if "query_result" in data:
            return cls(result=QueryResult.from_json(data))
        if "job" in data:
            return cls(job=Job.from_json(data))
        raise DashResponseError("The execution answer holds neither 'query_result' nor 'job'")


class ParameterType(enum.StrEnum):
    """Redash parameter types."""

    TEXT = "text"
    NUMBER = "number"
    ENUM = "enum"
    QUERY = "query"
    DATE = "date"
    DATETIME_LOCAL = "datetime-local"
    DATETIME_WITH_SECONDS = "datetime-with-seconds"
    DATE_RANGE = "date-range"
    DATETIME_RANGE = "datetime-range"
    DATETIME_RANGE_WITH_SECONDS = "datetime-range-with-seconds"

    @property
    def is_range(self) -> bool:
        """True for the three range types (values are ``{"start", "end"}``)."""
        return self.value.endswith("-range") or self.value.endswith("-range-with-seconds")

    @property
    def is_date(self) -> bool:
        """True for every date, datetime and range type."""
        return self.value.startswith("date")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter definition from a query's ``options.parameters``.

    :ivar value: the saved default (may be a dynamic value such as ``"d_yesterday"``).
    :ivar enum_options: allowed values for enum parameters (``enumOptions`` split on newlines).
    :ivar multi_values: the ``multiValuesOptions`` mapping when the parameter allows several values.
    """

    name: str
    type: ParameterType
    title: str = ""
    value: Any = None
    enum_options: tuple[str, ...] = ()
    query_id: int | None = None
    multi_values: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, body: Any) -> Parameter:
        """Parse one entry of ``options.parameters``.

        :raises DashResponseError: when the entry has no name or an unknown type.
        """
        data = _obj(body, "parameter definition")
        name = _need(data, "name", str, "parameter definition")
        raw_type = _opt(data, "type", str, "parameter definition", "text")
        try:
            ptype = ParameterType(raw_type)
        except ValueError:
            raise DashResponseError(f"Parameter {name!r} has unknown type {raw_type!r}") from None
        raw_enum = data.get("enumOptions")
        if isinstance(raw_enum, str):
            enum_options = tuple(line.strip() for line in raw_enum.splitlines() if line.strip())
        elif isinstance(raw_enum, list):
            enum_options = tuple(str(v) for v in raw_enum)
        else:
            enum_options = ()
        multi = data.get("multiValuesOptions")
        return cls(
            name=name,
            type=ptype,
            title=str(data.get("title") or ""),
            value=data.get("value"),
            enum_options=enum_options,
            query_id=data.get("queryId") if isinstance(data.get("queryId"), int) else None,
            multi_values=multi if isinstance(multi, Mapping) else None,
        )


def _parameters(options: Any, what: str) -> tuple[Parameter, ...]:
    if not isinstance(options, Mapping):
        return ()
    raw = options.get("parameters") or []
    if not isinstance(raw, list):
        raise DashResponseError(f"The server's {what} options.parameters is not a list")
    return tuple(Parameter.from_json(p) for p in raw)


@dataclass(frozen=True, slots=True)
class Query:
    """A saved query. The query's own API key is deliberately not kept (it is a secret)."""

    id: int
    name: str
    query_text: str
    data_source_id: int | None
    parameters: tuple[Parameter, ...] = ()
    latest_query_data_id: int | None = None
    is_archived: bool = False
    is_draft: bool = False
    is_safe: bool = True
    version: int = 1
    tags: tuple[str, ...] = ()
    description: str | None = None

    def parameter(self, name: str) -> Parameter | None:
        """The definition named ``name``, or ``None``."""
        for p in self.parameters:
            if p.name == name:
                return p
        return None

    @classmethod
    def from_json(cls, body: Any) -> Query:
        """Parse a query object.

        :raises DashResponseError: when the body is not a query.
        """
        data = _obj(body, "query")
        query_id = _need(data, "id", int, "query")
        tags = data.get("tags") or []
        return cls(
            id=query_id,
            name=_opt(data, "name", str, "query", ""),
            query_text=_opt(data, "query", str, "query", ""),
            data_source_id=_opt(data, "data_source_id", int, "query"),
            parameters=_parameters(data.get("options"), f"query {query_id}"),
            latest_query_data_id=_opt(data, "latest_query_data_id", int, "query"),
            is_archived=bool(data.get("is_archived", False)),
            is_draft=bool(data.get("is_draft", False)),
            is_safe=bool(data.get("is_safe", True)),
            version=_opt(data, "version", int, "query", 1),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            description=_opt(data, "description", str, "query"),
        )


class MappingType(enum.StrEnum):
    """Where a widget's parameter gets its value from."""

    DASHBOARD_LEVEL = "dashboard-level"
    WIDGET_LEVEL = "widget-level"
    STATIC_VALUE = "static-value"


@dataclass(frozen=True, slots=True)
class ParameterMapping:
    """One entry of a widget's ``options.parameterMappings``.

    :ivar map_to: for dashboard-level mappings, the dashboard parameter's name.
    :ivar value: for static values, the value; for widget-level, a value set on the widget (or None).
    """

    name: str
    type: MappingType
    map_to: str
    value: Any = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Widget:
    """A dashboard widget. Text widgets have ``query is None`` and their content in ``text``."""

    id: int
    text: str = ""
    visualization_id: int | None = None
    query: Query | None = None
    parameter_mappings: tuple[ParameterMapping, ...] = ()

    @property
    def is_text(self) -> bool:
        """True for a text-only widget."""
        return self.query is None

    @classmethod
    def from_json(cls, body: Any) -> Widget:
        """Parse a widget of a dashboard.

        :raises DashResponseError: when the body is not a widget.
        """
        data = _obj(body, "widget")
        widget_id = _need(data, "id", int, "widget")
        vis = data.get("visualization")
        query = None
        vis_id = None
        if vis is not None:
            vis = _obj(vis, f"widget {widget_id} visualization")
            vis_id = _opt(vis, "id", int, "visualization")
            if vis.get("query") is not None:
                query = Query.from_json(vis["query"])
        options = data.get("options") or {}
        mappings = []
        raw_mappings = options.get("parameterMappings") if isinstance(options, Mapping) else None
        if isinstance(raw_mappings, Mapping):
            for key, raw in raw_mappings.items():
                raw = _obj(raw, f"widget {widget_id} parameter mapping")
                try:
                    mtype = MappingType(str(raw.get("type")))
                except ValueError:
                    raise DashResponseError(
                        f"Widget {widget_id} parameter {key!r} has unknown mapping type {raw.get('type')!r}"
                    ) from None
                mappings.append(
                    ParameterMapping(
                        name=str(raw.get("name") or key),
                        type=mtype,
                        map_to=str(raw.get("mapTo") or raw.get("name") or key),
                        value=raw.get("value"),
                        title=str(raw.get("title") or ""),
                    )
                )
        text = data.get("text")
        return cls(
            id=widget_id,
            text=text if isinstance(text, str) else "",
            visualization_id=vis_id,
            query=query,
            parameter_mappings=tuple(mappings),
        )


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A dashboard. ``widgets`` is empty in list answers (the server sends ``null`` there)."""

    id: int
    slug: str
    name: str
    version: int = 1
    is_archived: bool = False
    is_draft: bool = False
    tags: tuple[str, ...] = ()
    widgets: tuple[Widget, ...] = ()

    @classmethod
    def from_json(cls, body: Any) -> Dashboard:
        """Parse a dashboard object.

        :raises DashResponseError: when the body is not a dashboard.
        """
        data = _obj(body, "dashboard")
        dashboard_id = _need(data, "id", int, "dashboard")
        raw_widgets = data.get("widgets") or []
        if not isinstance(raw_widgets, list):
            raise DashResponseError(f"Dashboard {dashboard_id} widgets is not a list")
        # The public docs say an array of arrays; real servers send a flat list. Accept both.
        flat: list[Any] = []
        for w in raw_widgets:
            flat.extend(w if isinstance(w, list) else [w])
        tags = data.get("tags") or []
        return cls(
            id=dashboard_id,
            slug=_opt(data, "slug", str, "dashboard", ""),
            name=_opt(data, "name", str, "dashboard", ""),
            version=_opt(data, "version", int, "dashboard", 1),
            is_archived=bool(data.get("is_archived", False)),
            is_draft=bool(data.get("is_draft", False)),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            widgets=tuple(Widget.from_json(w) for w in flat),
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list answer ``{count, page, page_size, results}`` (results still raw)."""

    count: int
    page: int
    page_size: int
    results: tuple[Any, ...]

    @classmethod
    def from_json(cls, body: Any) -> Page:
        """Parse a list envelope.

        :raises DashResponseError: when the body is not a page.
        """
        data = _obj(body, "list answer")
        results = _need(data, "results", list, "list answer")
        return cls(
            count=_opt(data, "count", int, "list answer", len(results)),
            page=_opt(data, "page", int, "list answer", 1),
            page_size=_opt(data, "page_size", int, "list answer", len(results)),
            results=tuple(results),
        )


def parse_list(items: Sequence[Any], parse: Any) -> list[Any]:
    """Parse each item of ``items`` with ``parse``; used for list answers."""
    return [parse(item) for item in items]


# --------------------------------------------------------------------------- the one text for a job that failed

# Redash prefixes the SQL with "/* Username: ..., query_id: ..., Scheduled: False */", so database
# errors quote that comment (often cut: "LINE 1: ...e0fd, Scheduled: False */ select ...") and the
# caret line under it points into the comment rather than the user's SQL.
_COMMENT = re.compile(r"/\*\s*Username:.*?\*/\s*", re.DOTALL)
_CUT_COMMENT = re.compile(r"^(LINE \d+: )\.\.\.[^\n]*?(?:Scheduled: \w+|query_id: [^,*\n]*)\s*\*/\s*")
_CARET_LINE = re.compile(r"^\s*\^\s*$")


def clean_job_error(error: str) -> str:
    """Redash's job error without its ``/* Username: ... */`` comment noise and the caret pointing into it."""
    text = _COMMENT.sub("", error or "")
    lines: list[str] = []
    drop_caret = False
    for line in text.splitlines():
        if drop_caret and _CARET_LINE.match(line):
            drop_caret = False
            continue
        cut = _CUT_COMMENT.match(line)
        drop_caret = cut is not None
        lines.append(cut.group(1) + line[cut.end() :] if cut else line)
    return "\n".join(lines).strip()


def job_failure_message(job: Job, query_id: int | None) -> str:
    """The one text for a job that failed or was cancelled: job id, query id and Redash's error."""
    of_query = f" of query {query_id}" if query_id is not None else ""
    if job.is_cancelled:
        return f"Job {job.id}{of_query} was cancelled: {clean_job_error(job.error) or 'no reason given'}"
    return f"Job {job.id}{of_query} failed: {clean_job_error(job.error) or 'Redash gave no error text'}"


def raise_for_job(job: Job, query_id: int | None) -> None:
    """Raise when ``job`` ended without a result; return quietly otherwise.

    :raises DashJobCancelledError: for a cancelled job.
    :raises DashJobFailedError: for a failed job.
    """
    if job.is_cancelled:
        raise DashJobCancelledError(
            job_failure_message(job, query_id), job_id=job.id, query_id=query_id, error=clean_job_error(job.error)
        )
    if job.is_failed:
        raise DashJobFailedError(
            job_failure_message(job, query_id), job_id=job.id, query_id=query_id, error=clean_job_error(job.error)
        )
