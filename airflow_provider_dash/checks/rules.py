"""The data-quality check rules: rows, first row, columns, a value, a threshold, and the check spec.

Pure functions (stdlib only, no Airflow, no HTTP) over any result table with ``columns`` (each with
a ``name``), ``rows`` (mappings) and ``row_count``: the Redash gates and result sensor evaluate
results through them. Each check returns a list of failure texts (empty: passed), so a gate can
report every failed check at once. A NULL, a missing column or a text where a number is expected
is a failed check with a clear text, never a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_dash.checks.values import (
    as_number,
    compare,
    hashable,
    is_truthy,
    show,
)
from airflow_provider_dash.exceptions import DashConfigError

#: The column checks :func:`check_columns` knows, with what each one takes.
COLUMN_CHECKS: Mapping[str, str] = {
    "min": "every non-NULL value >= this number (or text, compared as text)",
    "max": "every non-NULL value <= this number (or text, compared as text)",
    "equal_to": "every non-NULL value equals this value (numbers compare as numbers)",
    "in": "every non-NULL value is one of these values",
    "null_count": "exactly this many NULLs (0: no NULLs)",
    "unique": "True: no non-NULL value appears twice",
    "distinct_count": "exactly this many distinct non-NULL values",
}


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class ResultTable(Protocol):
    """What the checks read of a result (a Redash ``QueryResult`` is one)."""

    @property
    def columns(self) -> Sequence[_Named]: ...

    @property
    def rows(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def row_count(self) -> int: ...


def column_names(result: ResultTable) -> list[str]:
    """The result's column names, in order (from the rows' keys when the result names no columns)."""
    if result.columns:
        return [c.name for c in result.columns]
    return list(result.rows[0]) if result.rows else []


def row_values(result: ResultTable, row: Mapping[str, Any]) -> list[Any]:
    """The values of ``row`` in column order."""
    return [row.get(name) for name in column_names(result)]


# --------------------------------------------------------------------------- first row


def check_first_row(result: ResultTable) -> list[str]:
    """At least one row, and every value of the first row truthy (SQLCheckOperator's rule).

    :return: the failures (empty when the check passed).
    """
    if not result.rows:
        return ["the query returned no rows"]
    first = result.rows[0]
    falsy = [
        name
        for name, value in zip(column_names(result), row_values(result, first), strict=True)
        if not is_truthy(value)
    ]
    if falsy:
        listed = ", ".join(f"{name}={show(first.get(name))}" for name in falsy)
        return [f"the first row has false values ({listed}): {show(first)}"]
    return []


def check_row_count(result: ResultTable, min_rows: int | None = None, max_rows: int | None = None) -> list[str]:
    """The number of rows lies in ``[min_rows, max_rows]`` (either bound may be ``None``).

    :return: the failures.
    """
    count = result.row_count
    if min_rows is not None and count < min_rows:
        return [f"the query returned {count} row{'s' * (count != 1)}, fewer than min_rows={min_rows}"]
    if max_rows is not None and count > max_rows:
        return [f"the query returned {count} rows, more than max_rows={max_rows}"]
    return []


# --------------------------------------------------------------------------- columns


def validate_column_checks(column_checks: Any) -> dict[str, dict[str, Any]]:
    """Check a ``column_checks`` mapping (``{"amount": {"min": 0}, "email": {"null_count": 0}}``).

    :return: a plain copy.
    :raises DashConfigError: naming the column and check at fault, and the known checks.
    """
    if column_checks is None:
        return {}
    if not isinstance(column_checks, Mapping):
        raise DashConfigError(f"column_checks must map column names to checks, got {column_checks!r}")
    checked: dict[str, dict[str, Any]] = {}
    for column, checks in column_checks.items():
        if not isinstance(checks, Mapping) or not checks:
            raise DashConfigError(f"column_checks[{column!r}] must be a non-empty dict of checks, got {checks!r}")
        for name, expected in checks.items():
            if name not in COLUMN_CHECKS:
                raise DashConfigError(
                    f"column_checks[{column!r}] has an unknown check {name!r}; known: {', '.join(COLUMN_CHECKS)}"
                )
            _validate_column_check(str(column), name, expected)
        checked[str(column)] = dict(checks)
    return checked


def _validate_column_check(column: str, name: str, expected: Any) -> None:
    where = f"column_checks[{column!r}][{name!r}]"
    if name in ("null_count", "distinct_count"):
        if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
            raise DashConfigError(f"{where} must be a whole number >= 0, got {expected!r}")
    elif name == "unique":
        if not isinstance(expected, bool):
            raise DashConfigError(f"{where} must be True or False, got {expected!r}")
    elif name == "in":
        if isinstance(expected, (str, bytes)) or not isinstance(expected, Sequence | set | frozenset) or not expected:
            raise DashConfigError(f"{where} must be a non-empty list of values, got {expected!r}")
    elif name in ("min", "max"):
        if isinstance(expected, bool) or not isinstance(expected, (int, float, str)):
            raise DashConfigError(f"{where} must be a number (or a text, compared as text), got {expected!r}")
    elif expected is None or isinstance(expected, (Mapping, list)):
        raise DashConfigError(f"{where} must be a single value, got {expected!r}")


@dataclass
class _Offenders:
    """Rows failing one rule: how many, and the first one (1-based row number) with its value."""

    count: int = 0
    first: tuple[int, Any, Mapping[str, Any]] | None = None

    def add(self, number: int, value: Any, row: Mapping[str, Any]) -> None:
        self.count += 1
        if self.first is None:
            self.first = (number, value, row)

    def text(self, what: str, total: int) -> str:
        assert self.first is not None
        number, value, row = self.first
        return f"{self.count} of {total} rows {what}; first at row {number}: {show(value)} (row: {show(row)})"


def _bound_number(bound: Any) -> float | int | None:
    """The bound of ``min``/``max``/``equal_to`` as a number; ``None`` for a text (compared as text)."""
    return None if isinstance(bound, str) else as_number(bound)


def _bound_verdict(name: str, bound: Any, value: Any) -> str | None:
    """``None`` when a non-NULL ``value`` passes ``min``/``max``/``equal_to``; else "type" or "value"."""
    numeric = _bound_number(bound)
    if numeric is not None:
        number = as_number(value)
        if number is None:
            return "type"
        ok = number >= numeric if name == "min" else number <= numeric if name == "max" else number == numeric
    elif name == "equal_to":
        ok = value == bound
    elif not isinstance(value, str):
        return "type"
    else:
        ok = value >= bound if name == "min" else value <= bound
    return None if ok else "value"


def check_columns(result: ResultTable, column_checks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Evaluate ``column_checks`` over every row of ``result`` and report every failed check.

    NULLs are skipped by ``min``, ``max``, ``equal_to``, ``in``, ``unique`` and ``distinct_count``
    (count them with ``null_count``). On an empty result those checks hold vacuously: pair them
    with ``min_rows``.

    :return: one failure text per failed (column, check).
    """
    failures: list[str] = []
    names = column_names(result)
    total = result.row_count
    for column, checks in column_checks.items():
        if column not in names:
            failures.append(f"column {column!r} is not in the result (columns: {', '.join(names) or 'none'})")
            continue
        values = [(number, row.get(column), row) for number, row in enumerate(result.rows, start=1)]
        non_null = [(n, v, r) for n, v, r in values if v is not None]
        for name, expected in checks.items():
            label = f"column {column!r} {name}={expected!r}"
            if name in ("min", "max", "equal_to"):
                wrong_type, wrong_value = _Offenders(), _Offenders()
                for number, value, row in non_null:
                    verdict = _bound_verdict(name, expected, value)
                    if verdict == "type":
                        wrong_type.add(number, value, row)
                    elif verdict == "value":
                        wrong_value.add(number, value, row)
                kind = "a number" if _bound_number(expected) is not None else "a text"
                if wrong_type.count:
                    failures.append(f"{label}: " + wrong_type.text(f"are not {kind}", total))
                if wrong_value.count:
                    what = {"min": f"are below {expected!r}", "max": f"are above {expected!r}"}.get(
                        name, f"differ from {expected!r}"
                    )
                    failures.append(f"{label}: " + wrong_value.text(what, total))
            elif name == "in":
                allowed = {hashable(a) for a in expected}
                outside = _Offenders()
                for number, value, row in non_null:
                    if hashable(value) not in allowed:
                        outside.add(number, value, row)
                if outside.count:
                    failures.append(f"{label}: " + outside.text("have another value", total))
            elif name == "null_count":
                nulls = _Offenders()
                for number, value, row in values:
                    if value is None:
                        nulls.add(number, value, row)
                if nulls.count != expected:
                    where = f"; first at row {nulls.first[0]} (row: {show(nulls.first[2])})" if nulls.first else ""
                    failures.append(f"{label}: found {nulls.count} NULL{'s' * (nulls.count != 1)}{where}")
            elif name == "unique":
                if not expected:
                    continue
                seen: dict[Any, int] = {}
                duplicates = _Offenders()
                for number, value, row in non_null:
                    key = hashable(value)
                    if key in seen:
                        duplicates.add(number, value, row)
                    else:
                        seen[key] = number
                if duplicates.count:
                    assert duplicates.first is not None
                    first_seen = seen[hashable(duplicates.first[1])]
                    failures.append(
                        f"{label}: "
                        + duplicates.text("repeat an earlier value", total)
                        + f", first seen at row {first_seen}"
                    )
            elif name == "distinct_count":
                distinct = len({hashable(v) for _, v, _ in non_null})
                if distinct != expected:
                    failures.append(f"{label}: found {distinct} distinct non-NULL value{'s' * (distinct != 1)}")
    return failures


@dataclass(frozen=True)
class CheckSpec:
    """What :class:`QueryCheckOperator` and :class:`ResultTableSensor` check on a result.

    :param min_rows: fewest rows allowed (``None``: no minimum).
    :param max_rows: most rows allowed (``None``: no maximum).
    :param column_checks: per-column checks over all rows (see :data:`COLUMN_CHECKS`).
    :param check_first_row: require at least one row with every first-row value truthy; ``None``
        (default) means "only when no other check is given" (the SQLCheckOperator rule).
    """

    min_rows: int | None = None
    max_rows: int | None = None
    column_checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    check_first_row: bool | None = None

    def __post_init__(self) -> None:
        for name in ("min_rows", "max_rows"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise DashConfigError(f"{name} must be a whole number >= 0 or None, got {value!r}")
        if self.min_rows is not None and self.max_rows is not None and self.min_rows > self.max_rows:
            raise DashConfigError(f"min_rows ({self.min_rows}) is greater than max_rows ({self.max_rows})")
        object.__setattr__(self, "column_checks", validate_column_checks(self.column_checks))
        if self.check_first_row is not None and not isinstance(self.check_first_row, bool):
            raise DashConfigError(f"check_first_row must be True, False or None, got {self.check_first_row!r}")

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> CheckSpec:
        """Build from ``{"min_rows": ..., "max_rows": ..., "column_checks": ..., "check_first_row": ...}``.

        :raises DashConfigError: for an unknown key or a bad value.
        """
        known = {"min_rows", "max_rows", "column_checks", "check_first_row"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise DashConfigError(f"unknown check spec key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(spec))

    @property
    def first_row(self) -> bool:
        """Whether the first-row truthiness check runs."""
        if self.check_first_row is not None:
            return self.check_first_row
        return self.min_rows is None and self.max_rows is None and not self.column_checks

    def evaluate(self, result: ResultTable) -> list[str]:
        """Every failure of ``result`` against this spec (empty: passed)."""
        failures = check_row_count(result, self.min_rows, self.max_rows)
        if self.first_row:
            failures += check_first_row(result)
        return failures + check_columns(result, self.column_checks)


# --------------------------------------------------------------------------- value and threshold


def check_value(result: ResultTable, pass_value: Any, tolerance: float | None = None) -> list[str]:
    """The first row's values equal ``pass_value`` (SQLValueCheckOperator's rule).

    :param pass_value: one value every first-row value must match, or a list with one value per
        column. Numbers (and numeric texts) compare as numbers, within ``tolerance`` when given;
        other texts compare as text; ``None`` expects NULL.
    :param tolerance: a ratio: ``0.1`` accepts values within 10 % of the expected number, edges included.
    :return: one failure per value that does not match.
    """
    if not result.rows:
        return ["the query returned no rows"]
    first = result.rows[0]
    names = column_names(result)
    values = row_values(result, first)
    if isinstance(pass_value, (list, tuple)):
        if len(pass_value) != len(values):
            return [f"expected {len(pass_value)} values, the first row has {len(values)}: {show(first)}"]
        expected = list(pass_value)
    else:
        expected = [pass_value] * len(values)
    if not values:
        return ["the first row has no values"]
    failures = []
    for name, value, wanted in zip(names, values, expected, strict=True):
        why = compare(value, wanted, tolerance)
        if why is not None:
            failures.append(f"column {name!r}: {why} (first row: {show(first)})")
    return failures


def check_threshold(result: ResultTable, min_threshold: float | None, max_threshold: float | None) -> list[str]:
    """The first value of the first row lies in ``[min_threshold, max_threshold]`` (``None``: open).

    :return: the failure (at most one).
    """
    if not result.rows:
        return ["the query returned no rows"]
    first = result.rows[0]
    values = row_values(result, first)
    if not values:
        return ["the first row has no values"]
    name, value = column_names(result)[0], values[0]
    number = as_number(value)
    low = "-inf" if min_threshold is None else f"{min_threshold:g}"
    high = "inf" if max_threshold is None else f"{max_threshold:g}"
    if number is None:
        return [f"column {name!r}: {show(value)} is not a number (range {low} .. {high}; first row: {show(first)})"]
    if (min_threshold is not None and number < min_threshold) or (max_threshold is not None and number > max_threshold):
        return [f"column {name!r}: {show(value)} is outside {low} .. {high} (first row: {show(first)})"]
    return []
