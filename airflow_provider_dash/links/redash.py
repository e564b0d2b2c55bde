"""Extra links from a task to the query or dashboard page on the Redash server.

The operators push the page's URL to XCom before they wait (keys :data:`QUERY_URL_KEY` and
:data:`DASHBOARD_URL_KEY`), so the link works even when the wait fails. The links only read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

from airflow_provider_dash.hooks._redash_web import dashboard_page_url, query_page_url
from airflow_provider_dash.links._xcom import pushed_url

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = [
    "DASHBOARD_URL_KEY",
    "QUERY_URL_KEY",
    "RedashDashboardLink",
    "RedashQueryLink",
    "dashboard_page_url",
    "query_page_url",
]

QUERY_URL_KEY = "query_url"
DASHBOARD_URL_KEY = "dashboard_url"


class RedashQueryLink(BaseOperatorLink):
    """Operator extra link "Redash query": the query's page on the server."""

    name = "Redash query"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed to XCom key ``query_url`` ("" before it ran)."""
        return pushed_url(ti_key, QUERY_URL_KEY)


class RedashDashboardLink(BaseOperatorLink):
    """Operator extra link "Redash dashboard": the dashboard's page on the server."""

    name = "Redash dashboard"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed to XCom key ``dashboard_url`` ("" before it ran)."""
        return pushed_url(ti_key, DASHBOARD_URL_KEY)
