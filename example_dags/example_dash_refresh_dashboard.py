"""Refresh every query of a Redash dashboard once the data behind it has been loaded.

``load_sales`` stands for your load step (an ELT job, a COPY, a dbt run). When it succeeds,
``RefreshDashboardOperator`` re-runs the queries of every widget of the ``sales-overview``
dashboard: each with its effective parameters (saved defaults, widget values, static values) and
the dashboard-level ``region`` and ``period`` filled from this DAG's params. Identical runs are made
once, at most four are in flight at a time, and the waiting is deferred to the triggerer.

The last task reports what was refreshed: one line per query run with its result id and row count.

Connection ``dash_default``: host = the server's base URL, password = an API key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_dash.operators.redash_dashboard import RefreshDashboardOperator

DASH_CONN_ID = "dash_default"


@dag(
    dag_id="example_dash_refresh_dashboard",
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    params={
        "dashboard": Param("sales-overview", type="string", description="Dashboard slug (or id)"),
        "region": Param("north", enum=["north", "south", "east", "west"], description="Sales region"),
    },
    tags=["example", "dash"],
    doc_md=__doc__,
)
def example_dash_refresh_dashboard() -> None:
    """Load, then refresh the sales dashboard for the month that ends on the logical date."""

    @task
    def load_sales(ds: str | None = None) -> str:
        """Stand-in for the load of the day's sales into the warehouse the dashboard reads."""
        print(f"Loading the sales of {ds} (replace this task with your own load)")
        return str(ds)

    refresh = RefreshDashboardOperator(
        task_id="refresh_dashboard",
        dash_conn_id=DASH_CONN_ID,
        dashboard="{{ params.dashboard }}",
        parameters={
            "region": "{{ params.region }}",
            "period": {"start": "{{ macros.ds_add(ds, -30) }}", "end": "{{ ds }}"},
        },
        max_age=0,
        max_active_queries=4,
        deferrable=True,
        timeout=30 * 60,
    )

    @task
    def report(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Log one line per refreshed query with its row count; return them (for the XCom view)."""
        # Imported here, not at the top: DAG files are parsed often and must stay light.
        from airflow_provider_dash.hooks.redash import DashHook

        summary = []
        with DashHook(dash_conn_id=DASH_CONN_ID) as hook:
            for run in runs:
                result = hook.get_query_result(run["query_result_id"], query_id=run["query_id"])
                print(
                    f"query {run['query_id']} (widgets {run['widget_ids']}): result {result.id}, "
                    f"{result.row_count} rows, parameters {run['parameters']}"
                )
                summary.append({"query_id": run["query_id"], "result_id": result.id, "rows": result.row_count})
        return summary

    load_sales() >> refresh
    report(refresh.output)


example_dash_refresh_dashboard()
