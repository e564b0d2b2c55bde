"""The PostHog API key never shows: not in XComs, the trigger's kwargs, any URL the server saw, an error
text, or any log line (every logger at DEBUG)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_dash.exceptions import DashError
from airflow_provider_dash.operators.posthog import RunEndpointOperator
from airflow_provider_dash.operators.posthog_checks import EndpointCheckOperator
from airflow_provider_dash.triggers.posthog import EndpointRunTrigger


def test_the_key_is_nowhere_after_runs_in_both_modes(
    ph: Any, ph_conn_id: str, run_dag: Any, dag_id: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    key = ph.personal_key
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False) as dag:
        RunEndpointOperator(task_id="worker", endpoint="daily_signups", return_rows=True, max_xcom_rows=100)
        RunEndpointOperator(task_id="deferred", endpoint="events_export", fetch_all=True, deferrable=True)
        EndpointCheckOperator(task_id="gate", endpoint="daily_signups", max_rows=1, deferrable=True)
        RunEndpointOperator(task_id="refused", endpoint="daily_signups", variables={"nope": 1})

    result = run_dag(dag)

    assert result.task_state("worker") == "success"
    assert result.task_state("gate") == "failed"
    assert key not in json.dumps(result.xcoms(), default=str)
    assert key not in json.dumps(result.rendered_fields(), default=str)
    assert all(key not in target for target in ph.counters.targets())
    assert key not in debug_logs.text
    trigger = EndpointRunTrigger("daily_signups", ph_conn_id, client_query_id="q")
    assert key not in json.dumps(trigger.serialize()) + repr(trigger)


def test_the_key_is_not_in_error_texts_or_reprs(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    key = "phx_secret_wrong_key_0123456789"
    hook = make_hook(ph_connection("posthog_wrong", key=key))

    with pytest.raises(DashError) as caught:
        hook.run_endpoint("daily_signups")

    assert key not in str(caught.value) + repr(caught.value)
    assert key not in repr(hook.config)
