"""Redash models of saved objects: queries and their parameters, dashboards and their widgets, list pages.

Parsed at the edge into frozen pydantic models (see :mod:`._base`); a malformed object raises
:class:`~airflow_provider_dash.exceptions.DashResponseError` naming the object and the field.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar

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

from airflow_provider_dash.models._base import (
    Flag,
    Labels,
    ServerModel,
    Text,
    not_an_object,
    server_error,
    wrong_type,
)


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


def _enum_options(value: Any) -> tuple[str, ...]:
    # The editor saves the options as one text, a line each; older servers and code give a list.
    if isinstance(value, str):
        return tuple(line.strip() for line in value.splitlines() if line.strip())
    if isinstance(value, list | tuple):
        return tuple(str(option) for option in value)
    return ()


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping_or_none(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _str_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list_or_empty(value: Any) -> list[Any] | tuple[Any, ...]:
    """:return: ``value`` when it is a list, ``()`` for null or ``[]``; anything else raises ``wrong_type("list")``."""
    if not value:
        return ()
    if not isinstance(value, list | tuple):
        raise wrong_type("list")
    return value


class Parameter(ServerModel):
    """One parameter definition from a query's ``options.parameters``.

    :ivar value: the saved default (may be a dynamic value such as ``"d_yesterday"``).
    :ivar enum_options: allowed values for enum parameters (``enumOptions`` split on newlines).
    :ivar multi_values: the ``multiValuesOptions`` mapping when the parameter allows several values.
    """

    object_name: ClassVar[str] = "parameter definition"

    name: StrictStr
    type: ParameterType = ParameterType.TEXT
    title: Text = ""
    value: Any = None
    enum_options: Annotated[tuple[str, ...], PlainValidator(_enum_options)] = Field((), validation_alias="enumOptions")
    query_id: Annotated[int | None, PlainValidator(_int_or_none)] = Field(None, validation_alias="queryId")
    multi_values: Annotated[Mapping[str, Any] | None, PlainValidator(_mapping_or_none)] = Field(
        None, validation_alias="multiValuesOptions"
    )

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any, info: ValidationInfo) -> ParameterType:
        if isinstance(value, ParameterType):
            return value
        if not isinstance(value, str):
            raise wrong_type("str")
        try:
            return ParameterType(value)
        except ValueError:
            raise server_error(f"Parameter {info.data.get('name')!r} has unknown type {value!r}") from None

    @classmethod
    def from_json(cls, body: Any) -> Parameter:
        """Parse one entry of ``options.parameters``.

        :raises DashResponseError: when the entry has no name or an unknown type.
        """
        return cls.parse(body)


class Query(ServerModel):
    """A saved query. The query's own API key is deliberately not kept (it is a secret)."""

    object_name: ClassVar[str] = "query"

    id: StrictInt
    name: StrictStr = ""
    query_text: StrictStr = Field("", validation_alias="query")
    data_source_id: StrictInt | None = None
    parameters: tuple[Parameter, ...] = Field((), validation_alias=AliasPath("options", "parameters"))
    latest_query_data_id: StrictInt | None = None
    is_archived: Flag = False
    is_draft: Flag = False
    is_safe: Flag = True
    version: StrictInt = 1
    tags: Labels = ()
    description: StrictStr | None = None

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameter_list(cls, value: Any) -> Any:
        # Options without parameters hold null, [] or nothing at all.
        return _list_or_empty(value)

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
        return cls.parse(body)


class MappingType(enum.StrEnum):
    """Where a widget's parameter gets its value from."""

    DASHBOARD_LEVEL = "dashboard-level"
    WIDGET_LEVEL = "widget-level"
    STATIC_VALUE = "static-value"


class ParameterMapping(ServerModel):
    """One entry of a widget's ``options.parameterMappings``.

    :ivar map_to: for dashboard-level mappings, the dashboard parameter's name.
    :ivar value: for static values, the value; for widget-level, a value set on the widget (or None).
    """

    object_name: ClassVar[str] = "parameter mapping"

    name: str
    type: MappingType
    map_to: str
    value: Any = None
    title: str = ""


class Widget(ServerModel):
    """A dashboard widget. Text widgets have ``query is None`` and their content in ``text``."""

    object_name: ClassVar[str] = "widget"

    id: StrictInt
    text: Annotated[str, PlainValidator(_str_or_empty)] = ""
    visualization_id: StrictInt | None = Field(None, validation_alias=AliasPath("visualization", "id"))
    query: Query | None = Field(None, validation_alias=AliasPath("visualization", "query"))
    parameter_mappings: tuple[ParameterMapping, ...] = Field(
        (), validation_alias=AliasPath("options", "parameterMappings")
    )

    @model_validator(mode="before")
    @classmethod
    def _visualization_is_an_object(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            visualization = data.get("visualization")
            if visualization is not None and not isinstance(visualization, Mapping):
                widget_id = data.get("id")
                known = isinstance(widget_id, int) and not isinstance(widget_id, bool)
                raise not_an_object(
                    f"widget {widget_id} visualization" if known else "widget visualization", visualization
                )
        return data

    @field_validator("parameter_mappings", mode="before")
    @classmethod
    def _mappings_by_parameter(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list | tuple) and all(isinstance(m, ParameterMapping) for m in value):
            return value  # built in code
        if not isinstance(value, Mapping):
            return ()  # the server's options hold no mappings (or not as an object): none
        widget_id = info.data.get("id")
        mappings = []
        for key, raw in value.items():
            if not isinstance(raw, Mapping):
                raise not_an_object(f"widget {widget_id} parameter mapping", raw)
            try:
                mapping_type = MappingType(str(raw.get("type")))
            except ValueError:
                raise server_error(
                    f"Widget {widget_id} parameter {key!r} has unknown mapping type {raw.get('type')!r}"
                ) from None
            mappings.append(
                ParameterMapping(
                    name=str(raw.get("name") or key),
                    type=mapping_type,
                    map_to=str(raw.get("mapTo") or raw.get("name") or key),
                    value=raw.get("value"),
                    title=str(raw.get("title") or ""),
                )
            )
        return tuple(mappings)

    @property
    def is_text(self) -> bool:
        """True for a text-only widget."""
        return self.query is None

    @classmethod
    def from_json(cls, body: Any) -> Widget:
        """Parse a widget of a dashboard.

        :raises DashResponseError: when the body is not a widget.
        """
        return cls.parse(body)


class Dashboard(ServerModel):
    """A dashboard. ``widgets`` is empty in list answers (the server sends ``null`` there)."""

    object_name: ClassVar[str] = "dashboard"

    id: StrictInt
    slug: StrictStr = ""
    name: StrictStr = ""
    version: StrictInt = 1
    is_archived: Flag = False
    is_draft: Flag = False
    tags: Labels = ()
    widgets: tuple[Widget, ...] = ()

    @field_validator("widgets", mode="before")
    @classmethod
    def _flat_widgets(cls, value: Any) -> Any:
        # The public docs say an array of arrays; real servers send a flat list. Accept both.
        flat: list[Any] = []
        for widget in _list_or_empty(value):
            flat.extend(widget if isinstance(widget, list) else [widget])
        return flat

    @classmethod
    def from_json(cls, body: Any) -> Dashboard:
        """Parse a dashboard object.

        :raises DashResponseError: when the body is not a dashboard.
        """
        return cls.parse(body)


def _count_of_results(data: dict[str, Any]) -> int:
    return len(data.get("results", ()))


class Page(ServerModel):
    """One page of a list answer ``{count, page, page_size, results}`` (results still raw)."""

    object_name: ClassVar[str] = "list answer"

    # First, so that the defaults of count and page_size can read it.
    results: tuple[Any, ...]
    count: StrictInt = Field(default_factory=_count_of_results)
    page: StrictInt = 1
    page_size: StrictInt = Field(default_factory=_count_of_results)

    @classmethod
    def from_json(cls, body: Any) -> Page:
        """Parse a list envelope.

        :raises DashResponseError: when the body is not a page.
        """
        return cls.parse(body)


def parse_list(items: Sequence[Any], parse: Any) -> list[Any]:
    """Parse each item of ``items`` with ``parse``; used for list answers."""
    return [parse(item) for item in items]
