"""The gate operators' shell (product-neutral): the three kinds of gate, and failing or skipping a gate's task.

A product's gate operator runs its query or endpoint, fetches the result and names it (a query and
its result, an endpoint and its version). The kind of gate is mixed in before it: it takes the
gate's own arguments and judges the result with :mod:`.rules`::

    class QueryThresholdCheckOperator(ThresholdGate, _QueryGateOperator): ...

Each kind is an Airflow operator class of its own, so Airflow reads its arguments (``default_args``,
``partial``/``expand``) as it reads any operator's. A result with failed checks fails the task, or
skips it with ``soft_fail``, through :func:`fail_gate`, so a failed gate reads the same for every
product. Unlike :mod:`.rules` and :mod:`.values`, this module imports Airflow (``airflow.sdk``, which
every DAG file loads anyway); :mod:`airflow_provider_dash.checks` does not re-export it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from airflow_provider_dash.arguments import is_template
from airflow_provider_dash.checks.rules import CheckSpec, ResultTable, check_threshold, check_value
from airflow_provider_dash.checks.values import as_threshold, check_tolerance
from airflow_provider_dash.exceptions import DashCheckFailedError, DashConfigError


class RowsGate(BaseOperator):
    """Judge the result by its row count, its columns and the first-row rule (a :class:`~.rules.CheckSpec`).

    :param min_rows: fewest rows allowed.
    :param max_rows: most rows allowed.
    :param column_checks: ``{column: {check: expected}}`` (see :data:`~.rules.COLUMN_CHECKS`).
    :param check_first_row: the first-row truthiness rule; default: only when no other check is given.
    """

    #: The gate's name in failure texts.
    gate = "check"

    def __init__(
        self,
        *,
        min_rows: int | None = None,
        max_rows: int | None = None,
        column_checks: Mapping[str, Mapping[str, Any]] | None = None,
        check_first_row: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = CheckSpec(
            min_rows=min_rows, max_rows=max_rows, column_checks=column_checks or {}, check_first_row=check_first_row
        )

    def _evaluate(self, result: ResultTable) -> list[str]:
        """Every failure of ``result`` (empty: passed)."""
        return self.spec.evaluate(result)


class ValueGate(BaseOperator):
    """Judge the result by its first row's values (SQLValueCheckOperator's rule).

    :param pass_value: the expected value (templated by the product's operator), or a list with one per column.
    :param tolerance: a ratio >= 0 (``0.05`` = 5 %), or ``None`` for exact equality.
    """

    gate = "value check"

    def __init__(self, *, pass_value: Any, tolerance: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pass_value = pass_value
        self.tolerance = check_tolerance(tolerance)

    def _evaluate(self, result: ResultTable) -> list[str]:
        """Every mismatched value (empty: passed)."""
        return check_value(result, self.pass_value, self.tolerance)


class ThresholdGate(BaseOperator):
    """Judge the result by the first value of its first row, which must lie in a range (edges included).

    The bounds are checked at DAG parse (a template is checked once rendered).

    :param min_threshold: the smallest value allowed (``None``: no minimum).
    :param max_threshold: the largest value allowed (``None``: no maximum).
    :raises DashConfigError: no bound, a bound that is not a number, or the minimum above the maximum.
    """

    gate = "threshold check"

    def __init__(
        self,
        *,
        min_threshold: float | str | None = None,
        max_threshold: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if min_threshold is None and max_threshold is None:
            raise DashConfigError("give min_threshold, max_threshold or both")
        low = None if is_template(min_threshold) else as_threshold(min_threshold, "min_threshold")
        high = None if is_template(max_threshold) else as_threshold(max_threshold, "max_threshold")
        if low is not None and high is not None and low > high:
            raise DashConfigError(f"min_threshold ({low:g}) is greater than max_threshold ({high:g})")
        self.min_threshold = min_threshold
        self.max_threshold = max_threshold

    def _evaluate(self, result: ResultTable) -> list[str]:
        """The value's failure, if any (empty: passed)."""
        low = as_threshold(self.min_threshold, "min_threshold")
        high = as_threshold(self.max_threshold, "max_threshold")
        return check_threshold(result, low, high)


def fail_gate(
    summary: str,
    failures: Sequence[str],
    *,
    soft_fail: bool,
    query_id: int | None = None,
    query_result_id: int | None = None,
) -> NoReturn:
    """Fail the gate's task with ``summary`` and every failure, one a line; skip it instead with ``soft_fail``.

    :param summary: what was judged and where, e.g. ``"The check of query 7 (<url>) failed on result 70 (3 rows)"``.
    :param failures: every failed check (not empty).
    :param query_id: the checked query, when the product has one (kept on the error).
    :param query_result_id: the checked result, likewise.
    :raises AirflowSkipException: with ``soft_fail``.
    :raises DashCheckFailedError: otherwise.
    """
    lines = "\n".join(f"- {failure}" for failure in failures)
    message = f"{summary}: {len(failures)} failed check{'s' * (len(failures) != 1)}\n{lines}"
    if soft_fail:
        raise AirflowSkipException(f"Skipping (soft_fail): {message}")
    raise DashCheckFailedError(message, failures=tuple(failures), query_id=query_id, query_result_id=query_result_id)
