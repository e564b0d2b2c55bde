"""Submit a long Redash query, free the worker, and wait for it with a deferrable sensor.

``submit`` starts a fresh execution of query 3 (a slow one) and returns at once
(``wait_for_completion=False``): it pushes the job id to XCom under the key ``job_id``.
``wait_for_job`` is a ``JobSensor`` on that job id; with ``deferrable=True`` it waits in the
triggerer, not in a worker slot, and returns the query result id. ``count_rows`` then reads that
result. Other work can run between the submit and the sensor.

Connection ``dash_default``: host = the server's base URL, password = an API key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_dash.operators.redash import RunQueryOperator
from airflow_provider_dash.sensors.redash import JobSensor

DASH_CONN_ID = "dash_default"
SLOW_QUERY_ID = 3


@dag(
    dag_id="example_dash_submit_and_sense",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    tags=["example", "dash"],
    doc_md=__doc__,
)
def example_dash_submit_and_sense() -> None:
    """Submit query 3 without waiting, then sense its job in the triggerer."""
    submit = RunQueryOperator(
        task_id="submit",
        dash_conn_id=DASH_CONN_ID,
        query_id=SLOW_QUERY_ID,
        max_age=0,
        wait_for_completion=False,
    )

    wait_for_job = JobSensor(
        task_id="wait_for_job",
        dash_conn_id=DASH_CONN_ID,
        job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}",
        query_id=SLOW_QUERY_ID,
        deferrable=True,
        poke_interval=2,
        timeout=30 * 60,
    )

    @task
    def count_rows(result_id: int) -> dict[str, Any]:
        """Read the query result; return its id, row count and the query's runtime."""
        # Imported here, not at the top: DAG files are parsed often and must stay light.
        from airflow_provider_dash.hooks.redash import DashHook

        with DashHook(dash_conn_id=DASH_CONN_ID) as hook:
            result = hook.get_query_result(result_id, query_id=SLOW_QUERY_ID)
        print(f"Query result {result_id}: {result.row_count} rows, ran {result.runtime} s on the server")
        return {"result_id": result_id, "rows": result.row_count, "runtime": result.runtime}

    submit >> wait_for_job
    count_rows(wait_for_job.output)


example_dash_submit_and_sense()
