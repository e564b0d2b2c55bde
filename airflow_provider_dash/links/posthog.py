"""Extra link from a task to the endpoint's page in PostHog's UI.

The operators push the page's URL to XCom key :data:`ENDPOINT_URL_KEY` before they run the
endpoint, so the link works even when the run fails. The link only reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

from airflow_provider_dash.links._xcom import pushed_url

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

ENDPOINT_URL_KEY = "endpoint_url"


class PostHogEndpointLink(BaseOperatorLink):
    """Operator extra link "PostHog endpoint": the endpoint's page in PostHog."""

    name = "PostHog endpoint"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed to XCom key ``endpoint_url`` ("" before it ran)."""
        return pushed_url(ti_key, ENDPOINT_URL_KEY)
