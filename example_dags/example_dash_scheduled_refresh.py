"""Refresh a parameterised Redash query every day, then export its result as CSV.

Every day, query 2 ("Parameterized orders") is run for the four weeks that end on the run's
logical date: its ``since`` and ``period`` parameters are rendered from ``{{ ds }}``, ``region``
comes from the DAG's params (pick another one when you trigger the DAG). ``max_age=0`` forces a
fresh execution, and ``deferrable=True`` hands the wait over to the triggerer, so no worker slot is
held while Redash runs the query.

The next task downloads the result as CSV through ``DashHook`` (one file per query and date, so a
re-run overwrites its own file) and returns where it went with its row count.

Connection ``dash_default``: host = the server's base URL, password = an API key.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from airflow_provider_dash.operators.redash import RunQueryOperator

DASH_CONN_ID = "dash_default"
ORDERS_QUERY_ID = 2
#: where the CSV files go; point it at shared storage in a real deployment.
EXPORT_DIR = Path(os.environ.get("DASH_EXAMPLE_EXPORT_DIR", Path(tempfile.gettempdir()) / "dash-exports"))


@dag(
    dag_id="example_dash_scheduled_refresh",
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2)},
    params={"region": Param("north", enum=["north", "south", "east", "west"], description="Sales region")},
    tags=["example", "dash"],
    doc_md=__doc__,
)
def example_dash_scheduled_refresh() -> None:
    """Run the orders query for the last four weeks, then export it as CSV."""
    refresh = RunQueryOperator(
        task_id="refresh_orders",
        dash_conn_id=DASH_CONN_ID,
        query_id=ORDERS_QUERY_ID,
        parameters={
            "since": "{{ macros.ds_add(ds, -28) }}",
            "period": {"start": "{{ macros.ds_add(ds, -28) }}", "end": "{{ ds }}"},
            "region": "{{ params.region }}",
            "cust": "customer_",
            "min_qty": 1,
        },
        max_age=0,
        deferrable=True,
        timeout=30 * 60,
    )

    @task
    def export_csv(result_id: int) -> dict[str, Any]:
        """Download the query result as CSV; return its path, row count and size."""
        # Imported here, not at the top: DAG files are parsed often and must stay light.
        from airflow_provider_dash.hooks.redash import DashHook

        context = get_current_context()
        target = EXPORT_DIR / context["dag"].dag_id / f"query_{ORDERS_QUERY_ID}_{context['ds']}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with DashHook(dash_conn_id=DASH_CONN_ID) as hook:
            result = hook.get_query_result(result_id, query_id=ORDERS_QUERY_ID)
            size = hook.download_query_result(result_id, target, file_format="csv", query_id=ORDERS_QUERY_ID)
        print(f"Query result {result_id}: {result.row_count} rows, {size} bytes written to {target}")
        return {"result_id": result_id, "rows": result.row_count, "path": str(target), "bytes": size}

    export_csv(refresh.output)


example_dash_scheduled_refresh()
