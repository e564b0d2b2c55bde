"""Strict request models of each generation and how their failures are answered.

REFERENCE.md §2.6 (G3 run model: extra keys forbidden, 400 ``validation_error`` with ``attr``),
§4.2 (G1 run model failures: 400 ``invalid_request``/``parse_error`` with pydantic's text), §2.2
(create model strict: unknown keys are a parse error), §2.4 (update fields; G1 ignored the others).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import errors

_Strict = ConfigDict(extra="forbid")

G3_REFRESH = ("cache", "force", "direct")
G1_ASYNC_REFRESH = ("async", "lazy_async", "force_async")


class RunBodyG3(BaseModel):
    """``POST /run`` body of G3 (``EndpointRunRequest``)."""

    model_config = _Strict
    variables: dict[str, Any] | None = None
    refresh: Literal["cache", "force", "direct"] | None = None
    version: int | None = None
    limit: int | None = Field(default=None, ge=1)
    offset: int | None = Field(default=None, ge=0)
    client_query_id: str | None = None
    debug: bool | None = None
    filters_override: dict[str, Any] | None = None


class RunBodyG1(BaseModel):
    """``POST /run`` body of G1 (with G1.5's ``version``)."""

    model_config = _Strict
    client_query_id: str | None = None
    filters_override: dict[str, Any] | None = None
    query_override: dict[str, Any] | None = None
    refresh: (
        Literal[
            "async",
            "async_except_on_cache_miss",
            "blocking",
            "force_async",
            "force_blocking",
            "force_cache",
            "lazy_async",
        ]
        | None
    ) = None
    variables_override: list[dict[str, Any]] | None = None
    variables_values: dict[str, Any] | None = None
    version: int | None = None


class _EndpointFieldsG3(BaseModel):
    """The endpoint fields of G3's create and update bodies, in the order pydantic reports them."""

    model_config = _Strict
    name: str | None = None
    query: dict[str, Any] | None = None
    description: str | None = None
    data_freshness_seconds: int | None = None
    is_active: bool | None = None
    is_materialized: bool | None = None
    derived_from_insight: str | None = None
    bucket_overrides: dict[str, Any] | None = None
    optional_breakdown_properties: list[str] | None = None
    tags: list[str] | None = None


class CreateBodyG3(_EndpointFieldsG3):
    """``POST /endpoints/`` body of G3: ``name`` and ``query`` are required (they keep their place)."""

    name: str
    query: dict[str, Any]


class UpdateBodyG3(_EndpointFieldsG3):
    """``PUT|PATCH /endpoints/{name}/`` body of G3: every field optional, plus ``version`` and ``deleted``."""

    version: int | None = None
    deleted: bool | None = None


class CreateBodyG1(BaseModel):
    """``POST /endpoints/`` body of G1."""

    model_config = _Strict
    name: str
    query: dict[str, Any]
    description: str | None = None
    is_active: bool | None = None
    cache_age_seconds: int | None = None
    is_materialized: bool | None = None
    sync_frequency: str | None = None


class UpdateBodyG1(BaseModel):
    """``PUT|PATCH /endpoints/{name}/`` body of G1: only these fields mattered, others were ignored."""

    model_config = ConfigDict(extra="ignore")
    description: str | None = None
    is_active: bool | None = None
    cache_age_seconds: int | None = None
    query: dict[str, Any] | None = None
    is_materialized: bool | None = None
    sync_frequency: str | None = None


Model = TypeVar("Model", bound=BaseModel)


def as_field_error(model: type[Model], body: Any) -> Model:
    """:return: ``body`` parsed by ``model``.

    :raises ApiError: 400 ``validation_error`` for the first error, ``attr`` the field path joined by ``__``.
    """
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        attr = "__".join(str(part) for part in first["loc"]) or None
        raise errors.validation(first["msg"], attr) from None


def as_parse_error(model: type[Model], body: Any) -> Model:
    """:return: ``body`` parsed by ``model``.

    :raises ApiError: 400 ``invalid_request``/``parse_error`` with pydantic's text as ``detail``.
    """
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise errors.parse_error(str(exc)) from None
