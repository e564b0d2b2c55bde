"""The data-quality check rules (product-neutral): :mod:`.rules` judges results, :mod:`.values` reads values.

Every public name of both is re-exported here: ``from airflow_provider_dash.checks import CheckSpec``.
"""

from airflow_provider_dash.checks.rules import (
    COLUMN_CHECKS,
    CheckSpec,
    ResultTable,
    check_columns,
    check_first_row,
    check_row_count,
    check_threshold,
    check_value,
    column_names,
    row_values,
    validate_column_checks,
)
from airflow_provider_dash.checks.values import (
    FALSE_TEXTS,
    as_number,
    as_threshold,
    check_tolerance,
    is_truthy,
    show,
    within_tolerance,
)

__all__ = [
    "COLUMN_CHECKS",
    "FALSE_TEXTS",
    "CheckSpec",
    "ResultTable",
    "as_number",
    "as_threshold",
    "check_columns",
    "check_first_row",
    "check_row_count",
    "check_threshold",
    "check_tolerance",
    "check_value",
    "column_names",
    "is_truthy",
    "row_values",
    "show",
    "validate_column_checks",
    "within_tolerance",
]
