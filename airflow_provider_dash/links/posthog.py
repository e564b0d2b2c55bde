"""Extra link from a task to the endpoint's page in PostHog's UI.

The operators push the page's URL to XCom key :data:`ENDPOINT_URL_KEY` before they run the
endpoint, so the link works even when the run fails. The link only reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

ENDPOINT_URL_KEY = "endpoint_url"


class PostHogEndpointLink(BaseOperatorLink):
    """Operator extra link "PostHog endpoint": the endpoint's page in PostHog."""

    name = "PostHog endpoint"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed to XCom key ``endpoint_url`` ("" before it ran)."""
        try:
            from airflow.sdk.execution_time.xcom import XCom
        except ImportError:  # pragma: no cover - Airflow 2 layout
            from airflow.models.xcom import XCom  # type: ignore[no-redef]

        value = XCom.get_value(ti_key=ti_key, key=ENDPOINT_URL_KEY)
        return value if isinstance(value, str) else ""
