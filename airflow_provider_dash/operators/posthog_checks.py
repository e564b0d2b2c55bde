"""Data-quality gates on PostHog endpoint results: run the endpoint, fail (or skip) unless every row passes.

Every gate is a :class:`~airflow_provider_dash.operators.posthog.RunEndpointOperator` (same variable
checks, worker or triggerer run, timeout, cancel on kill) that fetches every page (``fetch_all``) and
judges the rows with the one implementation of each rule in :mod:`airflow_provider_dash.checks`, the
one the Redash gates use: an :class:`~airflow_provider_dash.models.posthog.EndpointResult` is a
``ResultTable``. After a deferral the pages are read again in the worker from PostHog's cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.checks.gates import RowsGate, ThresholdGate, ValueGate, fail_gate
from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.operators.posthog import RunEndpointOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.hooks._posthog_runs import RunSpec
    from airflow_provider_dash.hooks.posthog import PostHogHook
    from airflow_provider_dash.models.posthog import EndpointResult, EndpointRun


class _EndpointGateOperator(RunEndpointOperator):
    """Run the endpoint like RunEndpointOperator (every page), then judge the rows with :meth:`_evaluate`."""

    #: The gate's name in failure texts.
    gate = "check"
    _reads_rows = True

    def __init__(self, *, endpoint: str, soft_fail: bool = False, **kwargs: Any) -> None:
        if kwargs.get("return_rows"):
            raise DashConfigError("a check returns its summary, not the rows: return_rows cannot be True")
        kwargs.setdefault("fetch_all", kwargs.get("limit") is None)
        super().__init__(endpoint=endpoint, **kwargs)
        self.soft_fail = soft_fail

    def _evaluate(self, result: EndpointResult) -> list[str]:
        """Every failure of ``result`` (empty: passed)."""
        raise NotImplementedError

    def _consume(self, context: Context, hook: PostHogHook, spec: RunSpec, pages: Iterator[EndpointRun]) -> Any:
        """Collect every row, judge them, return the summary or raise (skip with ``soft_fail``)."""
        from airflow_provider_dash.hooks.posthog import endpoint_ui_url
        from airflow_provider_dash.models.posthog import EndpointResult, RunSummary

        summary = RunSummary(spec.endpoint, spec.client_query_id)

        def counted() -> Iterator[EndpointRun]:
            for run in pages:
                summary.add(run)
                yield run

        result = EndpointResult.from_runs(spec.endpoint, counted())
        failures = self._evaluate(result)
        if not failures:
            self.log.info("Endpoint %r passed the %s (%d rows)", spec.endpoint, self.gate, result.row_count)
            return summary.to_json()
        config = hook.config
        where = f" ({endpoint_ui_url(config.base_url, config.project_id, spec.endpoint)})"
        fail_gate(
            f"The {self.gate} of endpoint {spec.endpoint!r}{where} failed on version {result.version} "
            f"({result.row_count} rows, execution {', '.join(result.execution_ids) or 'unknown'})",
            failures,
            soft_fail=self.soft_fail,
        )


class EndpointCheckOperator(RowsGate, _EndpointGateOperator):
    """Run an endpoint and fail unless its rows pass: SQLCheckOperator's first-row rule, row counts, column checks.

    The rules and their texts are those of :class:`~airflow_provider_dash.operators.redash_checks.QueryCheckOperator`
    (``column_checks`` such as ``{"signups": {"min": 0, "null_count": 0}, "day": {"unique": True}}``), applied
    to every row of every page. Takes every argument of :class:`RunEndpointOperator` except ``return_rows``.

    :param min_rows: fewest rows allowed.
    :param max_rows: most rows allowed.
    :param column_checks: ``{column: {check: expected}}`` (see :data:`airflow_provider_dash.checks.COLUMN_CHECKS`).
    :param check_first_row: the first-row truthiness rule; default: only when no other check is given.
    :param soft_fail: skip the task instead of failing.
    :return: the run's summary.
    :raises DashCheckFailedError: naming the endpoint, its page, the version and every failed check.
    """


class EndpointValueCheckOperator(ValueGate, _EndpointGateOperator):
    """Run an endpoint and fail unless the first row's values equal ``pass_value`` (within ``tolerance``).

    :param pass_value: the expected value (templated), or a list with one per column.
    :param tolerance: a ratio >= 0, or ``None`` for exact equality.
    """

    template_fields: Sequence[str] = (*RunEndpointOperator.template_fields, "pass_value")


class EndpointThresholdCheckOperator(ThresholdGate, _EndpointGateOperator):
    """Run an endpoint and fail unless the first value of its first row lies in a range (edges included).

    :param min_threshold: the smallest value allowed (templated; ``None``: no minimum).
    :param max_threshold: the largest value allowed (templated; ``None``: no maximum).
    """

    template_fields: Sequence[str] = (*RunEndpointOperator.template_fields, "min_threshold", "max_threshold")
