"""What every gate operator does around the rules (product-neutral): check its bounds, fail or skip its task.

The Redash and PostHog gates fetch and name their results each in their own way; the rest is one
shell: the threshold gate's bounds are checked at DAG parse and read again once rendered, and a
result with failed checks fails the task (or skips it, with ``soft_fail``) through :func:`fail_gate`,
so a failed gate reads the same for every product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from airflow_provider_dash.arguments import is_template
from airflow_provider_dash.checks.rules import ResultTable, check_threshold
from airflow_provider_dash.checks.values import as_threshold
from airflow_provider_dash.exceptions import DashCheckFailedError, DashConfigError


def check_threshold_bounds(min_threshold: Any, max_threshold: Any) -> None:
    """At DAG parse: at least one bound given, each a number, ``None`` or a template, the minimum not above the maximum.

    :raises DashConfigError: naming the bound and what is expected.
    """
    if min_threshold is None and max_threshold is None:
        raise DashConfigError("give min_threshold, max_threshold or both")
    low = None if is_template(min_threshold) else as_threshold(min_threshold, "min_threshold")
    high = None if is_template(max_threshold) else as_threshold(max_threshold, "max_threshold")
    if low is not None and high is not None and low > high:
        raise DashConfigError(f"min_threshold ({low:g}) is greater than max_threshold ({high:g})")


def check_rendered_threshold(result: ResultTable, min_threshold: Any, max_threshold: Any) -> list[str]:
    """:func:`~airflow_provider_dash.checks.rules.check_threshold` with the bounds as rendered (numbers or texts).

    :return: the failure (at most one).
    :raises DashConfigError: when a rendered bound is not a number.
    """
    low = as_threshold(min_threshold, "min_threshold")
    high = as_threshold(max_threshold, "max_threshold")
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
    :param query_id: the checked query, when the product has one (for the error).
    :param query_result_id: the checked result, likewise.
    :raises AirflowSkipException: with ``soft_fail``.
    :raises DashCheckFailedError: otherwise.
    """
    # Airflow's own exception: a gate only fails inside a running task, where Airflow is loaded already.
    from airflow.sdk.exceptions import AirflowSkipException

    lines = "\n".join(f"- {failure}" for failure in failures)
    message = f"{summary}: {len(failures)} failed check{'s' * (len(failures) != 1)}\n{lines}"
    if soft_fail:
        raise AirflowSkipException(f"Skipping (soft_fail): {message}")
    raise DashCheckFailedError(message, failures=tuple(failures), query_id=query_id, query_result_id=query_result_id)
