"""Each retry rule of the issue, with request counts.

Retried: connection errors, 429 (Retry-After, or the wait PostHog's text names), 502/503/504 and 503
query_capacity. Never: 400/401/403/404, a 500, the cost guardrails (see also test_hook_errors.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashApiError, DashAuthError, DashConnectionError, DashNotFoundError

from .helpers import ENDPOINT, QUERY, RUN, requests


def test_a_dropped_connection_is_retried_after_cancelling_the_lost_run(
    ph: Any, ph_connection: Any, make_hook: Any
) -> None:
    hook = make_hook(ph_connection(retries=3))
    ph.fail_next_runs("connection_reset", 2)

    run = hook.run_endpoint("daily_signups", client_query_id="q-lost")

    assert run.row_count == 90
    assert requests(ph, RUN, "POST", 0) == 2
    assert requests(ph, RUN, "POST", 200) == 1
    # each lost attempt was cancelled before the next was sent: never two heavy runs at once
    assert requests(ph, QUERY, "DELETE", 200) == 2


def test_a_server_that_is_down_is_retried_then_named(ph_connection: Any, make_hook: Any, ph: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = ph_connection("posthog_down", retries=1)
    import json
    import os

    fields = json.loads(os.environ["AIRFLOW_CONN_POSTHOG_DOWN"])
    fields["host"] = f"http://127.0.0.1:{port}"
    os.environ["AIRFLOW_CONN_POSTHOG_DOWN"] = json.dumps(fields)

    with pytest.raises(DashConnectionError, match=r"No answer from http://127.0.0.1:\d+ .* after 2 attempt"):
        make_hook(conn).get_endpoint("daily_signups")


@pytest.mark.parametrize("header", [True, False], ids=["retry-after-header", "wait-from-detail"])
def test_429_is_retried_after_the_wait_the_server_names(
    ph: Any, ph_connection: Any, make_hook: Any, header: bool
) -> None:
    ph.limits.burst, ph.limits.burst_window, ph.limits.retry_after_header = 1, 1.0, header
    hook = make_hook(ph_connection(retries=3))

    hook.get_endpoint("daily_signups")
    second = hook.get_endpoint("daily_signups")

    assert second.name == "daily_signups"
    assert requests(ph, ENDPOINT, "GET", 429) >= 1
    assert requests(ph, ENDPOINT, "GET", 200) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_up_to_the_budget(ph: Any, ph_connection: Any, make_hook: Any, status: int) -> None:
    hook = make_hook(ph_connection(retries=2))
    ph.set_faults(error_rate=1.0, error_statuses=(status,), routes=["/api/projects/{project_id}/endpoints/{name}"])

    with pytest.raises(DashApiError, match=f"HTTP {status}.*after 3 attempts"):
        hook.get_endpoint("daily_signups")

    assert requests(ph, ENDPOINT, "GET", status) == 3


def test_query_capacity_503_is_retried_until_the_run_gets_through(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    hook = make_hook(ph_connection(retries=3))
    ph.fail_next_runs("query_capacity", 2)

    assert hook.run_endpoint("daily_signups").row_count == 90

    assert requests(ph, RUN, "POST", 503) == 2
    assert requests(ph, RUN, "POST", 200) == 1
    assert requests(ph, QUERY, "DELETE") == 0  # the server refused: nothing to cancel


def test_concurrency_429_is_retried(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    ph.limits.concurrency = 0  # every run finds the project's slots taken
    hook = make_hook(ph_connection(retries=2))

    with pytest.raises(DashApiError, match="Too many concurrent requests") as caught:
        hook.run_endpoint("daily_signups")

    assert caught.value.status == 429
    assert requests(ph, RUN, "POST", 429) == 3


@pytest.mark.parametrize(
    ("name", "variables", "error", "status"),
    [("daily_signups", {"nope": 1}, DashApiError, 400), ("no_such_endpoint", None, DashNotFoundError, 404)],
    ids=["400", "404"],
)
def test_client_errors_are_never_retried(
    ph: Any, ph_connection: Any, make_hook: Any, name: str, variables: Any, error: type, status: int
) -> None:
    hook = make_hook(ph_connection(retries=3))

    with pytest.raises(error):
        hook.run_endpoint(name, variables)

    assert requests(ph, RUN, "POST", status) == 1


@pytest.mark.parametrize("key", ["phx_unknown", None], ids=["401", "403"])
def test_auth_errors_are_never_retried(ph: Any, ph_connection: Any, make_hook: Any, key: str | None) -> None:
    key = key or ph.add_personal_key(scopes=["query:read"])
    hook = make_hook(ph_connection("posthog_auth", key=key, retries=3))

    with pytest.raises(DashAuthError):
        hook.get_endpoint("daily_signups")

    assert requests(ph, ENDPOINT, "GET") == 1
