"""Deprecated module path: the data-quality gates are in :mod:`airflow_provider_dash.operators.redash_checks`."""

from airflow_provider_dash.operators.redash_checks import (
    QUERY_RESULT_ID_KEY,
    QueryCheckOperator,
    QueryThresholdCheckOperator,
    QueryValueCheckOperator,
)

__all__ = ["QUERY_RESULT_ID_KEY", "QueryCheckOperator", "QueryThresholdCheckOperator", "QueryValueCheckOperator"]
