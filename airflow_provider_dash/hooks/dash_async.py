"""Deprecated module path: the async Redash client is :mod:`airflow_provider_dash.hooks.redash_async`.

Kept as a re-export until a later release drops it.
"""

from airflow_provider_dash.hooks.redash_async import MAX_CONCURRENT_REQUESTS, DashAsyncClient

__all__ = ["MAX_CONCURRENT_REQUESTS", "DashAsyncClient"]
