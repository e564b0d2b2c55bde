"""The Redash emulator's query parameters: ``{{ name }}`` substitution and value validation, as Redash does.

Written independently of the provider's own parameter code: the emulator judges the client the
way Redash's ``ParameterizedQuery`` does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

_TEMPLATE = re.compile(r"\{\{\{?\s*([A-Za-z0-9_.\-]+)\s*\}?\}\}")

INVALID_MESSAGE = "The following parameter values are incompatible with their definitions: {}"
MISSING_MESSAGE = "Missing parameter value for: {}"


class InvalidParameters(Exception):
    """Some values do not fit their definitions (HTTP 400 ``{"message": ...}``)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(INVALID_MESSAGE.format(", ".join(names)))
        self.names = names


def template_names(sql: str) -> list[str]:
    """:return: the parameter names used in ``sql`` (``period.start`` style), first use first."""
    seen: dict[str, None] = {}
    for match in _TEMPLATE.finditer(sql):
        seen.setdefault(match.group(1), None)
    return list(seen)


def _key_names(values: Mapping[str, Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            names |= _key_names(value, name + ".")
        else:
            names.add(name)
    return names


def missing_names(sql: str, values: Mapping[str, Any]) -> list[str]:
    """:return: template names with no value (Redash reports them job-shaped, HTTP 400)."""
    given = _key_names(values)
    return [name for name in template_names(sql) if name not in given]


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        pass
    try:
        from dateutil.parser import parse  # optional; Redash uses dateutil

        parse(text)
        return True
    except (ImportError, ValueError, OverflowError):
        return False


def _is_number(value: Any) -> bool:
    if isinstance(value, (list, dict)) or value is None:
        return False
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _enum_options(definition: Mapping[str, Any]) -> list[str]:
    options = definition.get("enumOptions") or ""
    if isinstance(options, list):
        return [str(o) for o in options]
    return list(str(options).split("\n"))


def _within(value: Any, options: list[str], allow_list: bool) -> bool:
    if isinstance(value, list):
        return allow_list and {str(v) for v in value} <= set(options)
    if isinstance(value, dict):
        return False
    return str(value) in options


def _is_range(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and "start" in value
        and "end" in value
        and _is_date(value["start"])
        and _is_date(value["end"])
    )


def is_valid(definition: Mapping[str, Any], value: Any) -> bool:
    """:return: whether ``value`` fits the parameter ``definition``."""
    kind = definition.get("type")
    allow_list = bool(definition.get("multiValuesOptions"))
    if kind == "text":
        return isinstance(value, str)
    if kind == "number":
        return _is_number(value)
    if kind == "enum":
        return _within(value, _enum_options(definition), allow_list)
    if kind == "query":
        return isinstance(value, (str, int, float)) or (allow_list and isinstance(value, list))
    if kind in ("date", "datetime-local", "datetime-with-seconds"):
        return _is_date(value)
    if kind in ("date-range", "datetime-range", "datetime-range-with-seconds"):
        return _is_range(value)
    return True


def is_safe(definitions: Sequence[Mapping[str, Any]]) -> bool:
    """:return: False when any parameter is free text (Redash refuses those with query keys)."""
    return not any(d.get("type") == "text" for d in definitions)


def validate(definitions: Sequence[Mapping[str, Any]] | None, values: Mapping[str, Any]) -> None:
    """Check ``values`` against ``definitions`` (None = no schema: anything goes).

    :raises InvalidParameters: naming every value that does not fit or has no definition.
    """
    if not definitions:
        return
    by_name = {d.get("name"): d for d in definitions}
    bad = [name for name, value in values.items() if name not in by_name or not is_valid(by_name[name], value)]
    if bad:
        raise InvalidParameters(bad)


def _render_value(value: Any, definition: Mapping[str, Any] | None) -> str:
    if isinstance(value, list):
        opts = (definition or {}).get("multiValuesOptions") or {}
        prefix, suffix = str(opts.get("prefix", "")), str(opts.get("suffix", ""))
        sep = str(opts.get("separator", ","))
        return sep.join(f"{prefix}{v}{suffix}" for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute(sql: str, values: Mapping[str, Any], definitions: Sequence[Mapping[str, Any]] | None = None) -> str:
    """:return: ``sql`` with every ``{{ name }}`` / ``{{ name.key }}`` replaced, unescaped
    (like Redash's mustache rendering); unknown names render as empty text."""
    by_name = {d.get("name"): d for d in definitions or []}

    def repl(match: re.Match[str]) -> str:
        path = match.group(1).split(".")
        value: Any = values
        for part in path:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                return ""
        return _render_value(value, by_name.get(path[0]))

    return _TEMPLATE.sub(repl, sql)
