"""Back up every Redash query nightly, then run the privacy scan.

``backup_queries`` writes every saved query to ``query_<id>.sql`` files (the SQL under a header of
its name, data source, parameters, tags, schedule, description and visualizations) and a
``manifest.json``, in a folder per server. Only the queries changed since last night are rewritten,
and the files of deleted queries are removed. ``dash-tools import-queries <folder>`` restores it.

``privacy_scan`` then searches every query (SQL, name, description, tags, parameter values), every
latest result and every dashboard for the terms in the DAG's ``privacy_terms`` param (e-mail
addresses of people who asked to be forgotten, say). It fails when any of them is found, so the
run alerts; the report (where each term was found, with links) is in its XCom ``scan_report``.

Connection ``dash_default``: host = the server's base URL, password = a user API key.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from airflow.sdk import Param, dag

from airflow_provider_dash.operators.redash_tools import ExportQueriesOperator, ScanOperator

DASH_CONN_ID = "dash_default"
BACKUP_DIR = Path(os.environ.get("DASH_EXAMPLE_EXPORT_DIR", Path(tempfile.gettempdir()) / "dash-exports"))
#: Any ObjectStoragePath URI works here too (s3://bucket/redash-backup/, ... with its provider installed).
BACKUP_PATH = str(BACKUP_DIR / "query-backup")


@dag(
    dag_id="example_dash_tools",
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["example", "dash"],
    doc_md=__doc__,
    params={"privacy_terms": Param(["forget.me@example.com"], type="array", description="texts to find")},
    render_template_as_native_obj=True,  # the terms param renders as a list, not as its text
)
def example_dash_tools() -> None:
    """Back up the queries, then scan the server for personal data."""
    backup = ExportQueriesOperator(
        task_id="backup_queries",
        dash_conn_id=DASH_CONN_ID,
        path=BACKUP_PATH,
        archived=True,
    )
    scan = ScanOperator(
        task_id="privacy_scan",
        dash_conn_id=DASH_CONN_ID,
        terms="{{ params.privacy_terms }}",
        concurrency=8,
    )
    backup >> scan


example_dash_tools()
