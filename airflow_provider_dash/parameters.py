"""Deprecated module path: Redash parameter filling is :mod:`airflow_provider_dash.hooks._redash_parameters`."""

from airflow_provider_dash.hooks._redash_parameters import (
    DYNAMIC_DATES,
    DYNAMIC_PREFIX,
    DYNAMIC_RANGES,
    WEEK_START,
    resolve_parameters,
)

__all__ = ["DYNAMIC_DATES", "DYNAMIC_PREFIX", "DYNAMIC_RANGES", "WEEK_START", "resolve_parameters"]
