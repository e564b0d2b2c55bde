"""When the finance query is refreshed, export it: a DAG scheduled on a Redash query's asset.

Redash refreshes the finance query by itself, on the schedule set in Redash (or when someone
presses *Refresh*). The asset ``finance_totals`` (``redash://<server>/queries/<id>``) has a
watcher: ``QueryRefreshedTrigger`` polls the query from the triggerer and fires an asset event
when its latest result changes. Each event runs this DAG once; ``export_finance`` streams the very
result that fired it (its id is in the event) to a CSV file named after it. No event for the result
already there when the watcher starts, one per new result, none repeated after a triggerer restart.

Connection ``dash_default``: host = the server's base URL, password = an API key. It is read when
the file is parsed, to name the server in the asset's URI.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from airflow.sdk import AssetWatcher, dag

from airflow_provider_dash.lineage.redash_assets import redash_query_asset
from airflow_provider_dash.operators.redash_export import ExportQueryResultOperator
from airflow_provider_dash.triggers.redash_assets import QueryRefreshedTrigger

DASH_CONN_ID = "dash_default"
#: The demo's "Totals by region"; point it at your finance query.
FINANCE_QUERY_ID = int(os.environ.get("DASH_EXAMPLE_FINANCE_QUERY_ID", "5"))
#: Seconds between two looks at the query.
WATCH_INTERVAL = float(os.environ.get("DASH_EXAMPLE_WATCH_INTERVAL", "60"))
EXPORT_DIR = Path(os.environ.get("DASH_EXAMPLE_EXPORT_DIR", Path(tempfile.gettempdir()) / "dash-exports"))
#: The result id the watcher's event carries (the asset event's extra holds the trigger's payload).
RESULT_FROM_EVENT = "{{ (triggering_asset_events.values() | first | last).extra['payload']['query_result_id'] }}"

finance_totals = redash_query_asset(
    FINANCE_QUERY_ID,
    DASH_CONN_ID,
    name="finance_totals",
    watchers=[
        AssetWatcher(
            name="finance_totals_refreshed",
            trigger=QueryRefreshedTrigger(
                query_id=FINANCE_QUERY_ID, dash_conn_id=DASH_CONN_ID, poll_interval=WATCH_INTERVAL
            ),
        )
    ],
)


@dag(
    dag_id="example_dash_export_on_refresh",
    schedule=[finance_totals],
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["example", "dash"],
    doc_md=__doc__,
)
def example_dash_export_on_refresh() -> None:
    """Export the finance query's new result each time Redash refreshes it."""
    ExportQueryResultOperator(
        task_id="export_finance",
        query_id=FINANCE_QUERY_ID,
        query_result_id=RESULT_FROM_EVENT,
        path=EXPORT_DIR.as_uri() + "/finance_" + RESULT_FROM_EVENT + ".csv",
        dash_conn_id=DASH_CONN_ID,
    )


example_dash_export_on_refresh()
