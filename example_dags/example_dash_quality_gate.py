"""Gate a dashboard refresh on data quality, then export the checked data.

``load_orders`` stands for your load step. ``check_orders`` re-runs the ``orders`` query (demo
query 1) and fails unless it returned rows, no amount is negative or NULL and every id is unique;
only then does ``refresh_dashboard`` refresh the ``sales-overview`` dashboard (a failed gate leaves
it ``upstream_failed``; with ``soft_fail=True`` it would be skipped instead). ``export_orders``
streams the very result the gate checked (its id comes from the gate's XCom) to a CSV file per day,
written atomically.

Connection ``dash_default``: host = the server's base URL, password = an API key.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from airflow.sdk import dag, task

from airflow_provider_dash.operators.redash_checks import QueryCheckOperator
from airflow_provider_dash.operators.redash_dashboard import RefreshDashboardOperator
from airflow_provider_dash.operators.redash_export import ExportQueryResultOperator

DASH_CONN_ID = "dash_default"
ORDERS_QUERY_ID = 1
EXPORT_DIR = Path(os.environ.get("DASH_EXAMPLE_EXPORT_DIR", Path(tempfile.gettempdir()) / "dash-exports"))
#: Any ObjectStoragePath URI works here (s3://, gs://, ... with their providers installed).
EXPORT_PATH = EXPORT_DIR.as_uri() + "/orders_{{ ds_nodash }}.csv"


@dag(
    dag_id="example_dash_quality_gate",
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["example", "dash"],
    doc_md=__doc__,
)
def example_dash_quality_gate() -> None:
    """Load, check, refresh only if the check passed, export the checked result."""

    @task
    def load_orders(ds: str | None = None) -> str:
        """Stand-in for the load of the day's orders into the warehouse the queries read."""
        print(f"Loading the orders of {ds} (replace this task with your own load)")
        return str(ds)

    check = QueryCheckOperator(
        task_id="check_orders",
        dash_conn_id=DASH_CONN_ID,
        query_id=ORDERS_QUERY_ID,
        max_age=0,
        min_rows=1,
        column_checks={
            "id": {"null_count": 0, "unique": True},
            "amount": {"null_count": 0, "min": 0},
        },
        deferrable=True,
        timeout=30 * 60,
    )
    refresh = RefreshDashboardOperator(
        task_id="refresh_dashboard",
        dash_conn_id=DASH_CONN_ID,
        dashboard="sales-overview",
        max_age=0,
        deferrable=True,
        timeout=30 * 60,
    )
    export = ExportQueryResultOperator(
        task_id="export_orders",
        dash_conn_id=DASH_CONN_ID,
        query_id=ORDERS_QUERY_ID,
        query_result_id="{{ ti.xcom_pull(task_ids='check_orders') }}",
        path=EXPORT_PATH,
        format="csv",
    )

    load_orders() >> check >> refresh >> export


example_dash_quality_gate()
