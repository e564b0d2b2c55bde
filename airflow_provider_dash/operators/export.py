"""Deprecated module path: the result export is in :mod:`airflow_provider_dash.operators.redash_export`."""

from airflow_provider_dash.operators.redash_export import ExportQueryResultOperator

__all__ = ["ExportQueryResultOperator"]
