"""Data-quality gates: run a saved Redash query and fail (or skip) the task unless its result passes.

Every gate is a :class:`~airflow_provider_dash.operators.redash.RunQueryOperator` (same submit,
wait-or-defer, reattach, timeout and on-kill behaviour) that overrides ``_on_result``: once the run
has a result, in the worker or after a deferral, the result is fetched and judged by the pure
functions of :mod:`airflow_provider_dash.checks`; the kind of gate (rows, value, threshold) is mixed in
from :mod:`airflow_provider_dash.checks.gates`. The checked result id is the task's return value
(and XCom ``query_result_id``, pushed before judging, so it is there even when the gate fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.arguments import as_id
from airflow_provider_dash.checks.gates import RowsGate, ThresholdGate, ValueGate, fail_gate
from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.links import query_page_url
from airflow_provider_dash.operators.redash import RunQueryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.models import QueryResult

#: XCom key of the checked result id (also the return value when the gate passes).
QUERY_RESULT_ID_KEY = "query_result_id"


class _QueryGateOperator(RunQueryOperator):
    """Run the query like RunQueryOperator, then judge its result with :meth:`_evaluate`."""

    #: The gate's name in failure texts.
    gate = "check"

    def __init__(
        self,
        *,
        query_id: int | str,
        parameters: Mapping[str, Any] | str | None = None,
        max_age: int | str | None = 0,
        soft_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("wait_for_completion", True) is not True:
            raise DashConfigError("a check must wait for its query: wait_for_completion cannot be False")
        super().__init__(query_id=query_id, parameters=parameters, max_age=max_age, wait_for_completion=True, **kwargs)
        self.soft_fail = soft_fail

    def _evaluate(self, result: QueryResult) -> list[str]:
        """Every failure of ``result`` (empty: passed)."""
        raise NotImplementedError

    def _on_result(self, context: Context, result_id: int) -> int:
        """Fetch the result and judge it; return its id, or raise (skip with ``soft_fail``)."""
        context["ti"].xcom_push(key=QUERY_RESULT_ID_KEY, value=result_id)
        hook = self._get_hook()
        query_id = as_id(self.query_id)
        result = self._lineage_result(query_id, result_id)  # kept for the lineage: fetched once
        failures = self._evaluate(result)
        if not failures:
            self.log.info(
                "Query %s result %s passed the %s (%d rows)", query_id, result_id, self.gate, result.row_count
            )
            return result_id
        try:
            name = hook.get_query(query_id).name
        except DashError as error:  # the verdict matters more than the name
            self.log.warning("Could not read the name of query %s: %s", query_id, error)
            name = ""
        url = query_page_url(hook.config.base_url, query_id)
        fail_gate(
            f"The {self.gate} of query {query_id}{f' {name!r}' if name else ''} ({url}) failed on result "
            f"{result_id} ({result.row_count} rows)",
            failures,
            soft_fail=self.soft_fail,
            query_id=query_id,
            query_result_id=result_id,
        )


class QueryCheckOperator(RowsGate, _QueryGateOperator):
    """Run a saved query and fail unless its result passes: SQLCheckOperator's rule, row counts, column checks.

    With no other check, the result must have at least one row and every value of the first row
    must be truthy (NULL, 0, ``false``, ``""`` and the texts ``"0"``, ``"false"``, ``"f"``, ``"no"``,
    ``"n"``, ``"off"`` are false). ``min_rows``/``max_rows`` bound the row count. ``column_checks``
    run over **all** rows and every failed check is reported, each with the first offending row::

        column_checks={
            "amount": {"min": 0, "max": 10_000, "null_count": 0},
            "email": {"null_count": 0, "unique": True},
            "region": {"in": ["north", "south", "east", "west"], "distinct_count": 4},
            "currency": {"equal_to": "EUR"},
        }

    ``min``, ``max``, ``equal_to``, ``in``, ``unique`` and ``distinct_count`` skip NULLs (count
    them with ``null_count``); a value of the wrong type (a text where a number is expected) is a
    failed check. Column checks hold vacuously on an empty result: pair them with ``min_rows=1``.

    Takes every argument of :class:`RunQueryOperator` (``deferrable``, ``poll_interval``,
    ``timeout``, ``cancel_on_kill``, ``dash_conn_id``...) except ``wait_for_completion``.

    :param query_id: the saved query (templated).
    :param parameters: parameter values by name (templated).
    :param max_age: reuse a cached result up to this many seconds old (templated; default 0: always run).
    :param min_rows: fewest rows allowed.
    :param max_rows: most rows allowed.
    :param column_checks: ``{column: {check: expected}}`` with the checks of
        :data:`airflow_provider_dash.checks.COLUMN_CHECKS`.
    :param check_first_row: apply the first-row truthiness rule; default: only when no other
        check is given.
    :param soft_fail: skip the task (and, by trigger rule, its downstream) instead of failing.
    :return: the checked query result id.
    :raises DashCheckFailedError: naming the query, its page, the result and every failed check.
    """


class QueryValueCheckOperator(ValueGate, _QueryGateOperator):
    """Run a saved query and fail unless the first row's values equal ``pass_value`` (SQLValueCheckOperator).

    Numbers (and numeric texts) compare as numbers; with ``tolerance`` a value passes when it lies
    within ``tolerance * |pass_value|`` of it, edges included (``pass_value=100, tolerance=0.1``
    accepts 90 to 110). Other texts compare as text, ``None`` expects NULL, and a list gives one
    expected value per column. NULL, an empty result or a text where a number is expected fail.

    :param pass_value: the expected value (templated), or a list with one per column.
    :param tolerance: a ratio >= 0 (``0.05`` = 5 %), or ``None`` for exact equality.
    :param soft_fail: skip instead of failing.
    :return: the checked query result id.
    :raises DashCheckFailedError: naming the query, its page, the result and every mismatched value.
    """

    template_fields: Sequence[str] = (*RunQueryOperator.template_fields, "pass_value")


class QueryThresholdCheckOperator(ThresholdGate, _QueryGateOperator):
    """Run a saved query and fail unless the first value of its first row lies in a range (edges included).

    :param min_threshold: the smallest value allowed (templated; ``None``: no minimum).
    :param max_threshold: the largest value allowed (templated; ``None``: no maximum).
    :param soft_fail: skip instead of failing.
    :return: the checked query result id.
    :raises DashCheckFailedError: when the value is outside, NULL, not a number, or there is no row.
    """

    template_fields: Sequence[str] = (*RunQueryOperator.template_fields, "min_threshold", "max_threshold")
