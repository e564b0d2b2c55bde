"""Deprecated module path: the Redash hook is :mod:`airflow_provider_dash.hooks.redash`.

``from airflow_provider_dash.hooks.dash import DashHook`` keeps working until a later release
drops this module; import from ``airflow_provider_dash.hooks.redash`` instead.
"""

from airflow_provider_dash.hooks._redash_results import DOWNLOAD_CHUNK_SIZE
from airflow_provider_dash.hooks._redash_transport import MAX_PAGE_SIZE
from airflow_provider_dash.hooks.redash import DashHook

__all__ = ["DOWNLOAD_CHUNK_SIZE", "MAX_PAGE_SIZE", "DashHook"]
