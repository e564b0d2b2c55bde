"""Deprecated module path: the result sensor is in :mod:`airflow_provider_dash.sensors.redash_checks`."""

from airflow_provider_dash.sensors.redash_checks import QueryResultSensor

__all__ = ["QueryResultSensor"]
