"""Deprecated module path: the job sensor is in :mod:`airflow_provider_dash.sensors.redash`."""

from airflow_provider_dash.sensors.redash import JobSensor

__all__ = ["JobSensor"]
