"""The product-neutral ground of the models: a frozen pydantic base and its errors in our own words.

Every product's models (Redash today) derive from :class:`ServerModel`. A body that does not fit
raises :class:`~airflow_provider_dash.exceptions.DashResponseError` whose text names the object and
the field (``The server's job field 'status' is str, not int``), never a pydantic ``ValidationError``,
a ``KeyError`` or a ``TypeError``.

pydantic is already imported by ``airflow.sdk``, so these models add no import time of their own;
``defer_build`` leaves each model's validator to be built on its first use, not at import (DAG files
import the operators on every parse and never parse a server answer).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, PlainValidator, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from airflow_provider_dash.exceptions import DashResponseError

#: Error type of a text written in full by a validator (see :func:`server_error`).
_OWN_TEXT = "dash_response"
#: Error type of a value of the wrong JSON type (see :func:`wrong_type`).
_WRONG_TYPE = "dash_wrong_type"
#: pydantic's type errors, named by the JSON type they expected.
_EXPECTED = {
    "int_type": "int",
    "int_parsing": "int",
    "int_from_float": "int",
    "string_type": "str",
    "bool_type": "bool",
    "bool_parsing": "bool",
    "float_type": "float",
    "float_parsing": "float",
    "list_type": "list",
    "tuple_type": "list",
}
#: pydantic's errors for a value that should have been an object.
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type", "mapping_type"})


def server_error(text: str) -> PydanticCustomError:
    """An error to raise inside a validator whose text the caller reads as written.

    :param text: the whole message (it names the object and the field itself).
    :return: the error; the models turn it into a :class:`DashResponseError` with ``text``.
    """
    return PydanticCustomError(_OWN_TEXT, "{text}", {"text": text})


def wrong_type(expected: str) -> PydanticCustomError:
    """An error to raise inside a field validator when the value has the wrong JSON type.

    :param expected: the type(s) expected, e.g. ``"int"`` or ``"str or int"``.
    :return: the error; it reads ``The server's <object> field '<key>' is <type>, not <expected>``.
    """
    return PydanticCustomError(_WRONG_TYPE, "Input should be {expected}", {"expected": expected})


def wrong_type_text(what: str, key: str, value: Any, expected: str) -> str:
    """The text for a value of the wrong JSON type: ``The server's job field 'status' is str, not int``.

    :param what: the object's name.
    :param key: the server's key of the field.
    :param value: what came.
    :param expected: the type(s) expected.
    """
    return f"The server's {what} field {key!r} is {type(value).__name__}, not {expected}"


def not_an_object(what: str, value: Any) -> PydanticCustomError:
    """An error to raise inside a validator when ``value`` should have been a JSON object.

    :param what: how the object is named, e.g. ``"query_result data"``.
    :param value: what came instead.
    """
    return server_error(f"Expected a JSON object for {what}, got {type(value).__name__}")


def as_object(body: Any, what: str) -> Mapping[str, Any]:
    """``body`` when it is a JSON object.

    :param body: the decoded answer.
    :param what: how the answer is named in errors, e.g. ``"execution answer"``.
    :raises DashResponseError: when ``body`` is not a JSON object.
    """
    if not isinstance(body, Mapping):
        raise DashResponseError(f"Expected a JSON object for {what}, got {type(body).__name__}")
    return body


def unwrap(body: Any, key: str, answer: str) -> Any:
    """The object under ``key`` of an answer such as ``{"job": {...}}``, or the answer itself without ``key``.

    :param body: the decoded answer.
    :param key: the envelope's key, e.g. ``"job"``.
    :param answer: how the answer is named in errors, e.g. ``"job answer"``.
    :raises DashResponseError: when the answer is not a JSON object.
    """
    data = as_object(body, answer)
    return data.get(key, data)


class ServerModel(BaseModel):
    """A frozen, typed view of one object a server sent.

    Subclasses name themselves in :attr:`object_name`. Scalars are declared strict where the server
    is exact (``StrictInt``: a string or a bool is not an int), lenient where it is not, with the
    leniency written next to the field. Keys the model does not know are ignored, and a ``null`` for
    a strict field that has a default stands for a field not sent (a lenient field reads ``null``
    itself: a :data:`Flag` reads it as false).
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        # The server's keys (aliases) when parsing, the field names when constructing in code.
        validate_by_alias=True,
        validate_by_name=True,
        # Locations by field name, so an error can be traced through the fields to the object at fault.
        loc_by_alias=False,
        defer_build=True,
    )

    #: How error texts name this object ("job", "query_result", "widget"...).
    object_name: ClassVar[str] = "object"
    #: The input keys (names and aliases) of the strict fields with a default: ``null`` there means "not sent".
    _nullable_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        keys: set[str] = set()
        for name, info in cls.model_fields.items():
            # A required field's null is an error; a lenient field (PlainValidator) reads null itself.
            if info.is_required() or any(isinstance(rule, PlainValidator) for rule in info.metadata):
                continue
            keys.add(name)
            alias = info.validation_alias
            if isinstance(alias, str):
                keys.add(alias)
            elif isinstance(alias, AliasChoices):
                keys.update(choice for choice in alias.choices if isinstance(choice, str))
        cls._nullable_keys = frozenset(keys)

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_sent(cls, data: Any) -> Any:
        # Servers send null for "no value"; a strict field with a default that is not None (a name
        # "", a version 1, a list of columns ()) would reject it, so it takes its default instead.
        if isinstance(data, Mapping) and any(data.get(key, 0) is None for key in cls._nullable_keys):
            return {key: value for key, value in data.items() if value is not None or key not in cls._nullable_keys}
        return data

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate one object exactly as the server sent it (its own keys, no envelope).

        :param data: the decoded JSON object.
        :return: the model.
        :raises DashResponseError: naming the object and the field, when ``data`` does not fit.
        """
        try:
            return cls.model_validate(data, by_alias=True, by_name=False)
        except ValidationError as error:
            raise response_error(error, cls) from None


def response_error(error: ValidationError, model: type[ServerModel]) -> DashResponseError:
    """Our own error for pydantic's: the first fault, with the object and the field it is in.

    :param error: what ``model.model_validate`` raised.
    :param model: the model that was validated (the outermost one).
    :return: a :class:`DashResponseError` such as ``The server's job field 'status' is str, not int``.
    """
    fault = error.errors(include_url=False)[0]
    kind, value, ctx = fault["type"], fault["input"], fault.get("ctx") or {}
    if kind == _OWN_TEXT:
        return DashResponseError(str(ctx.get("text", fault["msg"])))
    what, key = _locate(model, fault["loc"], into_last=kind in _NOT_AN_OBJECT)
    if kind in _NOT_AN_OBJECT:
        return DashResponseError(f"Expected a JSON object for {_join(what, key)}, got {type(value).__name__}")
    if key is None:
        return DashResponseError(f"The server's {what} is not valid: {fault['msg']}")
    if kind == "missing":
        return DashResponseError(f"The server's {what} has no {key!r} field")
    expected = ctx.get("expected") if kind == _WRONG_TYPE else _EXPECTED.get(kind)
    if expected is not None:
        return DashResponseError(wrong_type_text(what, key, value, expected))
    return DashResponseError(f"The server's {what} field {key!r} is not valid: {fault['msg']}")


def _join(what: str, key: str | None) -> str:
    return what if key is None else f"{what} {key}"


def _locate(model: type[ServerModel], loc: tuple[int | str, ...], *, into_last: bool) -> tuple[str, str | None]:
    """Follow an error's location (field names and list indexes) to the object and the server's key.

    :param into_last: the fault is the last step's value itself (not an object): when that value is
        one of our models, name the model, not the key holding it.
    :return: the object's name, e.g. ``"widget visualization"``, and the key in it (``None`` when the
        fault is the object itself).
    """
    owner: type[ServerModel] | None = model
    what, key = model.object_name, None
    for step, part in enumerate(loc):
        if isinstance(part, int):
            continue
        info = owner.model_fields.get(part) if owner is not None else None
        if info is None:
            # Inside a plain mapping (no model): name the path by the keys themselves.
            what, key = _join(what, key), part
            owner = None
            continue
        alias = info.validation_alias
        if isinstance(alias, AliasPath):
            *parents, last = (str(p) for p in alias.path)
            what, key = " ".join([what, ".".join(parents)]) if parents else what, last
        elif isinstance(alias, AliasChoices):
            key = str(alias.choices[0]) if isinstance(alias.choices[0], str) else part
        else:
            key = alias if isinstance(alias, str) else part
        nested = _model_in(info.annotation)
        if nested is not None and (step < len(loc) - 1 or into_last):
            # The fault lies inside the nested object (or in an element of a list of them).
            owner, what, key = nested, nested.object_name, None
        else:
            owner = None
    return what, key


def _model_in(annotation: Any) -> type[ServerModel] | None:
    """The model class inside ``annotation`` (``X``, ``X | None``, ``tuple[X, ...]``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, ServerModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, tuple, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------- lenient fields, said once


def _truth(value: Any) -> bool:
    return bool(value)


def _text(value: Any) -> str:
    return str(value or "")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


#: A flag read by its truth (Redash's ``is_archived``, ``is_draft``...): any JSON value is accepted.
Flag = Annotated[bool, PlainValidator(_truth)]
#: Free text: ``null`` or a false value is ``""``, any other value is its ``str()``.
Text = Annotated[str, PlainValidator(_text)]
#: A string when the server sent one, else ``None`` (never an error).
StrOrNone = Annotated[str | None, PlainValidator(_str_or_none)]
#: A list of labels, each its ``str()``; anything but a list is no labels.
Labels = Annotated[tuple[str, ...], PlainValidator(_strings)]
