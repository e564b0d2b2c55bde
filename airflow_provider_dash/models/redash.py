"""Redash models: jobs, query results and query runs, and the one text for a failed job.

Everything the server answers is parsed at the edge, into frozen pydantic models (see
:mod:`._base`), so no other module touches raw dicts. A malformed answer raises
:class:`~airflow_provider_dash.exceptions.DashResponseError` naming the object and the field, never
a ``KeyError``, a ``TypeError`` or a pydantic ``ValidationError``.

Queries, parameters, widgets, dashboards and list pages live in :mod:`.redash_objects` and are
re-exported here, so ``from airflow_provider_dash.models.redash import Query`` keeps working.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AliasPath,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_provider_dash.exceptions import DashJobCancelledError, DashJobFailedError, DashResponseError
from airflow_provider_dash.models._base import (
    ServerModel,
    StrOrNone,
    Text,
    as_object,
    not_an_object,
    server_error,
    unwrap,
    wrong_type,
    wrong_type_text,
)
from airflow_provider_dash.models.redash_objects import (
    Dashboard,
    MappingType,
    Page,
    Parameter,
    ParameterMapping,
    ParameterType,
    Query,
    Widget,
    parse_list,
)

__all__ = [
    "CANCELLED_ERROR_TEXT",
    "NON_TERMINAL_STATUSES",
    "TERMINAL_STATUSES",
    "Column",
    "Dashboard",
    "Job",
    "JobStatus",
    "MappingType",
    "Page",
    "Parameter",
    "ParameterMapping",
    "ParameterType",
    "Query",
    "QueryResult",
    "QueryRun",
    "Widget",
    "clean_job_error",
    "job_failure_message",
    "parse_list",
    "raise_for_job",
]

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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Job(ServerModel):
    """One Redash job (``{"job": {...}}``).

    :ivar id: job id (a UUID string).
    :ivar status: the job's :class:`JobStatus`.
    :ivar error: Redash's error text ("" when none; any other value is its ``str()``).
    :ivar query_result_id: the result id once FINISHED, else ``None``.
    :ivar updated_at: as sent: an ISO time for a running job, ``0`` otherwise (see :attr:`started_at`).
    """

    object_name: ClassVar[str] = "job"

    id: StrictStr
    status: JobStatus
    error: Text = ""
    query_result_id: StrictInt | None = None
    updated_at: Any = None

    @model_validator(mode="before")
    @classmethod
    def _result_under_its_old_name(cls, data: Any) -> Any:
        # Redash also names the result id "result"; "query_result_id" wins when both are there.
        if isinstance(data, Mapping) and data.get("query_result_id") is None and data.get("result") is not None:
            result = data["result"]
            if not _is_int(result):
                raise server_error(wrong_type_text(cls.object_name, "result", result, "int"))
            return {**data, "query_result_id": result}
        return data

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: Any, info: ValidationInfo) -> JobStatus:
        if not _is_int(value):
            raise wrong_type("int")
        try:
            return JobStatus(value)
        except ValueError:
            raise server_error(f"Job {info.data.get('id')} has unknown status {value!r}") from None

    @model_validator(mode="after")
    def _finished_names_its_result(self) -> Self:
        if self.status is JobStatus.FINISHED and self.query_result_id is None:
            raise server_error(f"Job {self.id} is finished but names no query_result_id")
        return self

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
        return cls.parse(unwrap(body, "job", "job answer"))


class Column(ServerModel):
    """One result column. ``type`` is ``None`` for text columns on a real server."""

    object_name: ClassVar[str] = "column"

    name: str
    friendly_name: StrOrNone = None
    type: StrOrNone = None

    @field_validator("name", mode="before")
    @classmethod
    def _name_as_text(cls, value: Any) -> str:
        # Some data sources name columns by number.
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise wrong_type("str or int")
        return str(value)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _rows(value: Any) -> tuple[Mapping[str, Any], ...]:
    # Rows are checked, not modelled: one pydantic object (or dict copy) per row would cost far
    # more than the rest of the answer, and the checks read rows as the mappings they are.
    if not isinstance(value, list | tuple):
        raise wrong_type("list")
    for row in value:
        if type(row) is not dict and not isinstance(row, Mapping):
            raise not_an_object("row", row)
    return tuple(value)


#: Seconds as a float; anything but a number is ``None`` (never an error).
Seconds = Annotated[float | None, PlainValidator(_seconds)]
#: The result's rows: a list of JSON objects, kept as they came.
Rows = Annotated[tuple[Mapping[str, Any], ...], PlainValidator(_rows)]


class QueryResult(ServerModel):
    """A stored query result (``{"query_result": {...}}``).

    :ivar rows: the rows as read-only mappings of column name to value.
    """

    object_name: ClassVar[str] = "query_result"

    id: StrictInt
    query_hash: StrictStr | None = None
    query_text: StrictStr = Field("", validation_alias="query")
    data_source_id: StrictInt | None = None
    runtime: Seconds = None
    retrieved_at: StrictStr | None = None
    columns: tuple[Column, ...] = Field((), validation_alias=AliasPath("data", "columns"))
    rows: Rows = Field((), validation_alias=AliasPath("data", "rows"), repr=False)

    @model_validator(mode="before")
    @classmethod
    def _data_is_an_object(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "data" not in data:
            return data
        payload = data["data"]
        if payload and not isinstance(payload, Mapping):
            if _is_int(data.get("id")):
                raise not_an_object("query_result data", payload)
            payload = None  # no result at all: the id's own fault is the one to report
        # No data (null, {}, or any false value) means no columns and no rows, as does a null inside.
        return {**data, "data": {key: value for key, value in (payload or {}).items() if value is not None}}

    @property
    def row_count(self) -> int:
        """Number of rows."""
        return len(self.rows)

    @classmethod
    def from_json(cls, body: Any) -> QueryResult:
        """Parse ``{"query_result": {...}}`` or the inner object.

        :raises DashResponseError: when the body is not a query result.
        """
        return cls.parse(unwrap(body, "query_result", "query result answer"))


class QueryRun(ServerModel):
    """What executing a query answered: either a cached result or a job to wait on.

    Exactly one of ``result`` and ``job`` is set.
    """

    object_name: ClassVar[str] = "execution answer"

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
        data = as_object(body, "execution answer")
        if "query_result" in data:
            return cls(result=QueryResult.from_json(data))
        if "job" in data:
            return cls(job=Job.from_json(data))
        raise DashResponseError("The execution answer holds neither 'query_result' nor 'job'")


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
