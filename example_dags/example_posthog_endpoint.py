"""Run a PostHog endpoint in the triggerer, gate on its rows, and export every row.

``daily_signups`` is a HogQL endpoint with the variable ``country``. ``run_signups`` runs it for
the country in the DAG's params, deferred: the triggerer holds the run's request open (a G3 run is
synchronous), no worker slot waits. ``check_signups`` fails unless every day has a count of at
least 1 and no day repeats; it reads the rows ``run_signups`` computed from PostHog's cache (same
variables, same pages), so the query runs once. ``export_events`` writes every row of ``events_export`` (10,000 on the
demo server, fetched in pages of 2,500) to a JSON Lines file per day, written atomically.

Connection ``posthog_default``: host = ``https://us.posthog.com`` (or eu, or self-hosted),
password = a personal API key (``phx_...``), extra ``{"project_id": <your project id>}``.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from airflow.sdk import dag

from airflow_provider_dash.operators.posthog import RunEndpointOperator
from airflow_provider_dash.operators.posthog_checks import EndpointCheckOperator
from airflow_provider_dash.operators.posthog_export import ExportEndpointResultOperator

POSTHOG_CONN_ID = "posthog_default"
EXPORT_DIR = Path(os.environ.get("DASH_EXAMPLE_EXPORT_DIR", Path(tempfile.gettempdir()) / "dash-exports"))
#: Any ObjectStoragePath URI works here (s3://, gs://, ... with their providers installed).
#: Named after the run's date (``run_after``: a manual run of Airflow 3 may have no logical date).
EXPORT_PATH = EXPORT_DIR.as_uri() + "/events_{{ dag_run.run_after.strftime('%Y%m%d') }}.jsonl"


@dag(
    dag_id="example_posthog_endpoint",
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    params={"country": "DE"},
    tags=["example", "posthog"],
    doc_md=__doc__,
)
def example_posthog_endpoint() -> None:
    """Run, check, export."""
    run = RunEndpointOperator(
        task_id="run_signups",
        posthog_conn_id=POSTHOG_CONN_ID,
        endpoint="daily_signups",
        variables={"country": "{{ params.country }}"},
        refresh="force",
        fetch_all=True,
        deferrable=True,
        timeout=30 * 60,
    )
    check = EndpointCheckOperator(
        task_id="check_signups",
        posthog_conn_id=POSTHOG_CONN_ID,
        endpoint="daily_signups",
        variables={"country": "{{ params.country }}"},
        min_rows=1,
        column_checks={"signups": {"null_count": 0, "min": 1}, "day": {"unique": True}},
        deferrable=True,
    )
    export = ExportEndpointResultOperator(
        task_id="export_events",
        posthog_conn_id=POSTHOG_CONN_ID,
        endpoint="events_export",
        page_size=2500,
        path=EXPORT_PATH,
        format="jsonl",
        deferrable=True,
    )

    run >> check >> export


example_posthog_endpoint()
