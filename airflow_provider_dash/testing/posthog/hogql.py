"""The HogQL subset the emulator runs, translated to SQLite.

Translation is deliberately small: ``{variables.x}`` placeholders become ``?`` parameters (the value
is bound, never pasted into the SQL: §5 "substituted as a typed constant"), backtick identifiers
become double-quoted ones, and a few ClickHouse functions (``toDate``, ``toString``, ``toInt``,
``today``, ``now``, ``countIf``...) are SQLite functions registered on each connection. Everything
else is passed to SQLite as written: standard SELECTs run, the rest fails as a query error.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""(?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<backtick>`(?:[^`]|``)*`)
      | (?P<line_comment>--[^\n]*)
      | (?P<block_comment>/\*.*?\*/)
      | (?P<placeholder>\{\s*variables\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\})
    """,
    re.VERBOSE | re.DOTALL,
)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_OP_BEFORE = re.compile(r"(!=|<>|>=|<=|==|=|>|<)\s*$")
_OP_AFTER = re.compile(r"^\s*(!=|<>|>=|<=|==|=|>|<)")
_MATERIALIZABLE_OPS = {"=", "==", ">", ">=", "<", "<="}


@dataclass(frozen=True)
class Translated:
    """SQLite text and the variable names of its ``?`` parameters, in order."""

    sql: str
    parameter_names: tuple[str, ...]

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        """:return: the values to bind, in order (missing names bind NULL)."""
        return [sqlite_value(values.get(name)) for name in self.parameter_names]


def sqlite_value(value: Any) -> Any:
    """:return: ``value`` as SQLite can bind it (lists and objects as their JSON text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    import json

    return json.dumps(value, sort_keys=True)


def _scan(sql: str) -> list[tuple[str, str, str | None]]:
    """:return: (kind, text, placeholder name) pieces of ``sql``; kind ``code`` for plain text."""
    pieces: list[tuple[str, str, str | None]] = []
    pos = 0
    for match in _TOKEN.finditer(sql):
        if match.start() > pos:
            pieces.append(("code", sql[pos : match.start()], None))
        kind = "placeholder" if match.group("placeholder") else str(match.lastgroup)
        pieces.append((kind, match.group(0), match.group("name")))
        pos = match.end()
    if pos < len(sql):
        pieces.append(("code", sql[pos:], None))
    return pieces


def placeholders(sql: str) -> list[str]:
    """:return: the ``code_name`` of every ``{variables.x}`` placeholder outside strings and comments,
    in order of first use."""
    names: list[str] = []
    for kind, _text, name in _scan(sql):
        if kind == "placeholder" and name and name not in names:
            names.append(name)
    return names


def translate(hogql: str) -> Translated:
    """:return: ``hogql`` as SQLite text with ``?`` for each placeholder (trailing ``;`` removed)."""
    out: list[str] = []
    names: list[str] = []
    for kind, text, name in _scan(hogql.strip().rstrip(";").strip()):
        if kind == "placeholder" and name:
            out.append("?")
            names.append(name)
        elif kind == "backtick":
            out.append('"' + text[1:-1].replace("``", "`").replace('"', '""') + '"')
        elif kind in ("line_comment", "block_comment"):
            out.append(" ")
        else:
            out.append(text)
    return Translated("".join(out), tuple(names))


def has_top_level_limit(hogql: str) -> bool:
    """:return: True if the outermost SELECT of ``hogql`` has a ``LIMIT`` of its own (then PostHog's
    default row cap does not apply, §2.6)."""
    depth = 0
    found = False
    for kind, text, _name in _scan(hogql):
        if kind != "code":
            continue
        for token in re.findall(r"\(|\)|\blimit\b", text, re.IGNORECASE):
            if token == "(":
                depth += 1
            elif token == ")":
                depth -= 1
            elif depth == 0:
                found = True
    return found


def materialize_problem(hogql: str) -> str | None:
    """:return: why a HogQL query cannot be materialized (§5: variables only in ``WHERE`` with
    ``=``, ``>``, ``>=``, ``<``, ``<=``), or None when it can."""
    code = ""
    for kind, text, name in _scan(hogql):
        if kind == "placeholder":
            code += f"\0{name}\0"
        elif kind in ("string", "quoted", "backtick"):
            code += "_" * len(text)
        elif kind == "code":
            code += text
        else:
            code += " "
    for match in re.finditer(r"\0([A-Za-z0-9_]+)\0", code):
        name = match.group(1)
        before, after = code[: match.start()], code[match.end() :]
        op = _OP_BEFORE.search(before) or _OP_AFTER.match(after)
        if not _WHERE.search(before) or op is None or op.group(1) not in _MATERIALIZABLE_OPS:
            return f"Variable '{name}' must be used in the WHERE clause with =, >, >=, <, or <=."
    return None


# -- ClickHouse functions as SQLite functions ----------------------------------------------------
def _to_date(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def _to_datetime(value: Any) -> str | None:
    return None if value is None else str(value).replace("T", " ")[:19]


def _to_int(value: Any) -> int | None:
    return None if value is None else int(float(value))


def _to_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _to_string(value: Any) -> str | None:
    return None if value is None else str(value)


def _start_of_month(value: Any) -> str | None:
    return None if value is None else str(value)[:7] + "-01"


class _CountIf:
    def __init__(self) -> None:
        self.count = 0

    def step(self, condition: Any) -> None:
        if condition:
            self.count += 1

    def finalize(self) -> int:
        return self.count


def register_functions(conn: sqlite3.Connection, now: Callable[[], dt.datetime]) -> None:
    """Register the ClickHouse functions of the subset on ``conn``; ``today()``/``now()`` read ``now``."""
    for name, fn in (
        ("toDate", _to_date),
        ("toDateTime", _to_datetime),
        ("toStartOfDay", _to_date),
        ("toStartOfMonth", _start_of_month),
        ("toInt", _to_int),
        ("toInt64", _to_int),
        ("toFloat", _to_float),
        ("toFloat64", _to_float),
        ("toString", _to_string),
    ):
        conn.create_function(name, 1, fn, deterministic=True)
    conn.create_function("today", 0, lambda: now().strftime("%Y-%m-%d"))
    conn.create_function("now", 0, lambda: now().strftime("%Y-%m-%d %H:%M:%S"))
    conn.create_aggregate("countIf", 1, _CountIf)
