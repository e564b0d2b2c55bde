"""Operator arguments, checked at DAG parse and coerced once rendered; and the deadline of a wait.

Product-neutral: the Redash and PostHog operators take ids, cache ages and parameter mappings the
same way, and honour ``timeout`` and Airflow's ``execution_timeout`` with the same deadline.
Every error names the argument and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.polling import deadline_after, earliest

if TYPE_CHECKING:
    from airflow.sdk import Context


def is_template(value: Any) -> bool:
    """True for a text holding Jinja (``{{`` or ``{%``): checked when rendered, not at parse."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_id(value: Any, name: str = "query_id", noun: str = "a query id") -> None:
    """At DAG parse: ``value`` is a positive id (int or digits) or a Jinja template.

    :raises DashConfigError: naming ``name`` and what was expected.
    """
    if is_template(value):
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DashConfigError(f"{name} must be {noun} (int) or a Jinja template, got {value!r}")
    if isinstance(value, str) and not value.strip().isdigit():
        raise DashConfigError(f"{name} must be {noun} (int) or a Jinja template, got {value!r}")
    if int(value) < 1:
        raise DashConfigError(f"{name} must be a positive id, got {value!r}")


def as_id(value: Any, name: str = "query_id") -> int:
    """The rendered id as an int (templates render to strings such as ``"7"``).

    :raises DashConfigError: naming ``name`` when it is not a positive whole number.
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DashConfigError(f"{name} must render to a positive whole number, got {value!r}")
    return value


def check_max_age(max_age: Any) -> None:
    """At DAG parse: ``max_age`` is ``None``, a template, or seconds >= 0 (see :func:`as_max_age`)."""
    if max_age is None or is_template(max_age):
        return
    as_max_age(max_age)


def as_max_age(max_age: Any) -> int | None:
    """The rendered ``max_age``: seconds >= 0, or ``None`` for any cached result."""
    if isinstance(max_age, str):
        text = max_age.strip()
        if text in ("", "None", "none", "null"):
            return None
        if text.lstrip("-").isdigit():
            max_age = int(text)
    if max_age is None:
        return None
    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise DashConfigError(
            f"max_age must be a whole number of seconds >= 0 (0 always runs), or None to accept any cached "
            f"result; got {max_age!r}"
        )
    return max_age


def as_mapping(
    value: Any, what: str, key_noun: str, error: Callable[[str], DashConfigError] = DashConfigError
) -> Mapping[Any, Any]:
    """A rendered mapping argument (parameters, variables): a mapping, or a JSON object text a template
    rendered to; ``None`` and ``""`` are empty.

    :param what: how error texts name the argument (``parameters``, ``variables of endpoint 'x'``).
    :param key_noun: what its keys name (``parameter``, ``variable``).
    :param error: makes the error raised from its text.
    :raises DashConfigError: (what ``error`` makes) for anything else.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise error(f"{what} must be a dict (or render to a JSON object), got {value!r}") from None
    if not isinstance(value, Mapping):
        raise error(f"{what} must be a dict of {key_noun} name to value, got {value!r}")
    return value


def as_parameters(parameters: Any, what: str = "parameters") -> dict[str, Any]:
    """The rendered ``parameters`` as a dict (a template may render to a JSON object text)."""
    return {str(name): value for name, value in as_mapping(parameters, what, "parameter").items()}


def check_parameters(parameters: Any) -> None:
    """At DAG parse: ``parameters`` is ``None``, a template, or a mapping.

    :raises DashConfigError: otherwise.
    """
    if parameters is None or is_template(parameters) or isinstance(parameters, Mapping):
        return
    raise DashConfigError(f"parameters must be a dict of parameter name to value, got {parameters!r}")


def execution_deadline(context: Context, execution_timeout: timedelta | None) -> float | None:
    """Epoch seconds at which Airflow's ``execution_timeout`` of this try runs out, if set."""
    if not execution_timeout:
        return None
    start = getattr(context.get("ti"), "start_date", None)
    if start is None:
        return deadline_after(execution_timeout.total_seconds())
    return start.timestamp() + execution_timeout.total_seconds()


def wait_deadline(
    context: Context, timeout: float | None, execution_timeout: timedelta | None
) -> tuple[float | None, str]:
    """The wait's absolute deadline (the earlier of ``timeout`` and ``execution_timeout``) and how to
    describe that limit in a timeout message."""
    own = deadline_after(timeout)
    airflow = execution_deadline(context, execution_timeout)
    deadline = earliest(own, airflow)
    if deadline is None:
        return None, ""
    if deadline == airflow and execution_timeout is not None:
        return deadline, f"execution_timeout={execution_timeout.total_seconds():g} s"
    return deadline, f"timeout={timeout:g} s"
