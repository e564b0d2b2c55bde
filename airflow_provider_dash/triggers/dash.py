"""Deprecated module path: the job trigger is in :mod:`airflow_provider_dash.triggers.redash`.

Kept so triggers serialised by an older release (``airflow_provider_dash.triggers.dash.JobTrigger``)
still load in the triggerer after an upgrade.
"""

from airflow_provider_dash.triggers.redash import JobTrigger

__all__ = ["JobTrigger"]
