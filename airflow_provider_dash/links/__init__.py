"""Extra links to a product's pages; the Redash ones live in :mod:`.redash`.

``airflow_provider_dash.links.RedashQueryLink`` (the class path DAGs serialised by older releases
name) keeps resolving through this re-export.
"""

from airflow_provider_dash.links.redash import (
    DASHBOARD_URL_KEY,
    QUERY_URL_KEY,
    RedashDashboardLink,
    RedashQueryLink,
    dashboard_page_url,
    query_page_url,
)

__all__ = [
    "DASHBOARD_URL_KEY",
    "QUERY_URL_KEY",
    "RedashDashboardLink",
    "RedashQueryLink",
    "dashboard_page_url",
    "query_page_url",
]
