"""Bad input: a clear error naming the thing and what was expected, before anything is sent.

Values known when the DAG is parsed fail the operator's constructor; templated ones fail at execute.
"""

from __future__ import annotations

from typing import Any

import pytest
from dag_helpers import make_context

from airflow_provider_dash.exceptions import (
    DashConfigError,
    DashError,
    DashNotFoundError,
    DashParameterError,
)
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.operators.dash import RefreshDashboardOperator, RunQueryOperator
from airflow_provider_dash.sensors.dash import JobSensor
from airflow_provider_dash.triggers.dash import JobTrigger

from .conftest import set_dash_connection

ARCHIVED, ALL_TYPES = 8, 2


def _nothing_executed(emu: Any) -> None:
    assert emu.counters.executions() == 0
    assert emu.counters.requests(route="/api/queries/{query_id}/results", method="POST") == 0


def test_unknown_query_id_names_the_query_and_the_server(emu: Any, conn_id: str) -> None:
    with pytest.raises(DashNotFoundError, match=rf"query 999 not found on {emu.url}"):
        RunQueryOperator(task_id="run", query_id=999, dash_conn_id=conn_id).execute(make_context())
    _nothing_executed(emu)


def test_archived_query_is_refused_though_redash_would_run_it(emu: Any, conn_id: str) -> None:
    with pytest.raises(DashConfigError, match=r"Query 8 .* is archived on .*expected an active query"):
        RunQueryOperator(task_id="run", query_id=ARCHIVED, dash_conn_id=conn_id).execute(make_context())
    _nothing_executed(emu)


@pytest.mark.parametrize("dashboard", [999, "no-such-dashboard"])
def test_unknown_dashboard_id_or_slug_is_named(emu: Any, conn_id: str, dashboard: Any) -> None:
    operator = RefreshDashboardOperator(task_id="refresh", dashboard=dashboard, dash_conn_id=conn_id)
    with pytest.raises(DashError, match=rf"dashboard '?{dashboard}'?"):
        operator.execute(make_context())
    _nothing_executed(emu)


@pytest.mark.parametrize(
    ("parameters", "text"),
    [
        ({"no_such": 1}, r"Query 2 has no parameter .no_such.; its parameters are: min_qty"),
        ({"region": "mars"}, r"region.*mars.*(north|allowed|one of)"),
        ({"since": "the day after tomorrow"}, r"since.*the day after tomorrow.*(YYYY-MM-DD|expected)"),
    ],
    ids=["unknown-name", "not-in-enum", "unparsable-date"],
)
def test_bad_parameter_values_fail_before_anything_is_sent(
    emu: Any, conn_id: str, parameters: dict[str, Any], text: str
) -> None:
    operator = RunQueryOperator(task_id="run", query_id=ALL_TYPES, parameters=parameters, dash_conn_id=conn_id)
    with pytest.raises(DashParameterError, match=text):
        operator.execute(make_context())
    _nothing_executed(emu)


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda: RunQueryOperator(task_id="t", query_id=1, max_age=-5), r"max_age must be .*>= 0.*got -5"),
        (lambda: RefreshDashboardOperator(task_id="t", dashboard=1, max_age=-1), r"max_age must be .*got -1"),
        (lambda: RunQueryOperator(task_id="t", query_id=1, poll_interval=0), r"poll_interval must be .*> 0.*got 0"),
        (lambda: RunQueryOperator(task_id="t", query_id=1, poll_interval=-2), r"poll_interval .*got -2"),
        (lambda: RefreshDashboardOperator(task_id="t", dashboard=1, poll_interval=0), r"poll_interval .*got 0"),
        (lambda: JobSensor(task_id="t", job_id="j", poll_interval=0), r"poll_interval .*got 0"),
        (lambda: JobTrigger(["j"], poll_interval=-1), r"poll_interval .*got -1"),
        (lambda: RunQueryOperator(task_id="t", query_id="seven"), r"query_id must be .*got 'seven'"),
        (lambda: RunQueryOperator(task_id="t", query_id=1, timeout=0), r"timeout must be .*> 0.*got 0"),
    ],
    ids=[
        "negative-max-age",
        "negative-max-age-dashboard",
        "zero-poll",
        "negative-poll",
        "zero-poll-dashboard",
        "zero-poll-sensor",
        "negative-poll-trigger",
        "query-id-not-a-number",
        "zero-timeout",
    ],
)
def test_argument_errors_are_raised_when_the_dag_is_parsed(make: Any, text: str) -> None:
    with pytest.raises(DashConfigError, match=text):
        make()


def test_templated_negative_max_age_fails_at_execute_before_sending(emu: Any, conn_id: str) -> None:
    operator = RunQueryOperator(task_id="run", query_id=1, max_age="{{ params.age }}", dash_conn_id=conn_id)
    operator.max_age = "-5"  # what rendering produced
    with pytest.raises(DashConfigError, match=r"max_age must be .*got -5"):
        operator.execute(make_context())
    assert emu.counters.requests() == 0


@pytest.mark.parametrize(
    ("host", "key", "text"),
    [
        ("", "k", r"Connection 'dash_bad' has no host: set it to the server's base URL"),
        ("http://127.0.0.1:1", "", r"Connection 'dash_bad' has no API key: put a user API key"),
        ("ftp://redash.example.com", "k", r"host 'ftp://redash.example.com' is not a base URL such as https://"),
    ],
    ids=["no-host", "no-key", "bad-scheme"],
)
def test_unusable_connection_names_the_connection_and_what_is_expected(
    monkeypatch: pytest.MonkeyPatch, host: str, key: str, text: str
) -> None:
    set_dash_connection(monkeypatch, "dash_bad", host, key)
    operator = RunQueryOperator(task_id="run", query_id=1, dash_conn_id="dash_bad")
    with pytest.raises(DashConfigError, match=text):
        operator.execute(make_context())


def test_host_without_scheme_is_https(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator speaks plain HTTP: an https:// URL proves the scheme the hook chose by the failure.
    set_dash_connection(monkeypatch, "dash_noscheme", f"127.0.0.1:{emu.port}", emu.user_key, retries=0)
    with DashHook("dash_noscheme") as hook:
        assert hook.config.base_url == f"https://127.0.0.1:{emu.port}"
        context = make_context()
        with pytest.raises(DashError) as caught:
            RunQueryOperator(task_id="run", query_id=1, dash_conn_id="dash_noscheme").execute(context)
    assert f"https://127.0.0.1:{emu.port}" in str(caught.value)
    assert context["ti"].xcoms["query_url"] == f"https://127.0.0.1:{emu.port}/queries/1"


def test_base_url_with_an_org_path_is_kept_in_every_url(
    dash_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = dash_emulator_factory(base_path="/acme", time_scale=20)
    set_dash_connection(monkeypatch, "dash_org", org.url + "/", org.user_key)
    context = make_context()
    result_id = RunQueryOperator(task_id="run", query_id=5, poll_interval=0.2, dash_conn_id="dash_org").execute(context)
    assert result_id is not None
    assert context["ti"].xcoms["query_url"] == f"{org.url}/queries/5"
    assert org.counters.requests(route="<unmatched>") == 0  # every request went under /acme
    assert org.counters.executions(5) == 1
