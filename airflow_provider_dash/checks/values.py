"""How the checks read values: numbers, truthiness, tolerance, and a value shown in a failure text.

Numbers are ``int`` and ``float`` values (not booleans) and texts that read as a finite number
(``"12.50"``: some data sources send decimals as text). NaN is not a number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from airflow_provider_dash.exceptions import DashConfigError

#: Texts read as false by the first-row check (case and surrounding spaces ignored).
FALSE_TEXTS = frozenset({"", "0", "false", "f", "no", "n", "off"})
_SHOWN = 300  # characters of a value shown in a failure text


def as_number(value: Any) -> float | int | None:
    """``value`` as a number, or ``None`` when it is not one (NULL, bool, NaN, a non-numeric text).

    :return: the int or float; a numeric text becomes a float (an int when it has no fraction).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    try:  # Decimal and other number-like objects
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def is_truthy(value: Any) -> bool:
    """SQLCheckOperator's truthiness, plus false-looking texts (``"0"``, ``"false"``, ``"f"``...) and NaN as false."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_TEXTS
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def show(value: Any) -> str:
    """A short, readable form of a value or row for a failure text (NULL for ``None``)."""
    if value is None:
        return "NULL"
    text = json.dumps(dict(value), default=str, ensure_ascii=False) if isinstance(value, Mapping) else repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def hashable(value: Any) -> Any:
    number = as_number(value) if not isinstance(value, str) else None
    if number is not None:
        return number  # 1 and 1.0 are the same value
    try:
        hash(value)
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)
    return value


def check_tolerance(tolerance: Any) -> float | None:
    """``tolerance`` as a float ratio >= 0, or ``None``.

    :raises DashConfigError: otherwise.
    """
    if tolerance is None:
        return None
    number = as_number(tolerance)
    if number is None or number < 0:
        raise DashConfigError(f"tolerance must be a ratio >= 0 (0.1 = 10 %) or None, got {tolerance!r}")
    return float(number)


def within_tolerance(value: float, expected: float, tolerance: float | None) -> bool:
    """``value`` equals ``expected``, or lies within ``tolerance * |expected|`` of it (edges included)."""
    if tolerance is None:
        return value == expected
    allowed = tolerance * abs(expected)
    difference = abs(value - expected)
    return difference <= allowed or math.isclose(difference, allowed, rel_tol=1e-9, abs_tol=1e-12)


def compare(value: Any, expected: Any, tolerance: float | None) -> str | None:
    """Why ``value`` does not match ``expected`` (None when it does)."""
    if expected is None:
        return None if value is None else f"{show(value)} is not NULL"
    if value is None:
        return f"NULL, expected {show(expected)}"
    if isinstance(expected, bool):
        if isinstance(value, bool):
            return None if value is expected else f"{show(value)}, expected {expected}"
        return None if is_truthy(value) is expected else f"{show(value)}, expected {expected}"
    target = as_number(expected)
    if target is not None:
        number = as_number(value)
        if number is None:
            return f"{show(value)} is not a number (expected {show(expected)})"
        if within_tolerance(number, target, tolerance):
            return None
        if tolerance is None:
            return f"{show(value)}, expected {show(expected)}"
        low, high = target - tolerance * abs(target), target + tolerance * abs(target)
        return f"{show(value)} is outside {show(expected)} ± {tolerance:g} ({low:g} .. {high:g})"
    return None if str(value) == str(expected) else f"{show(value)}, expected {show(expected)}"


def as_threshold(value: Any, name: str) -> float | None:
    """A gate's bound as a float (``None``, ``""`` or ``"None"``: no bound).

    :raises DashConfigError: naming ``name`` when it is not a number.
    """
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    number = as_number(value)
    if number is None:
        raise DashConfigError(f"{name} must be a number or None, got {value!r}")
    return float(number)
