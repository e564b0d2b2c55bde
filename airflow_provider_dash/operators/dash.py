"""Deprecated module path: the operators are in :mod:`airflow_provider_dash.operators.redash`
(RunQueryOperator) and :mod:`airflow_provider_dash.operators.redash_dashboard` (RefreshDashboardOperator).

Kept as a re-export until a later release drops it.
"""

from airflow_provider_dash.operators.redash import JOB_ID_KEY, JOB_IDS_KEY, STORED_JOB_KEY, RunQueryOperator
from airflow_provider_dash.operators.redash_dashboard import RefreshDashboardOperator

__all__ = ["JOB_IDS_KEY", "JOB_ID_KEY", "STORED_JOB_KEY", "RefreshDashboardOperator", "RunQueryOperator"]
