"""DashHook's transport: auth mapping, every retry rule, redirects, org paths, test_connection (TLS:
tests/faults/test_tls.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashApiError, DashAuthError, DashConnectionError
from airflow_provider_dash.hooks.dash import DashHook

from .conftest import HookFactory, count, query_api_key, set_connection
from .stub_servers import stub_server

QUERY_ROUTE = "/api/queries/{query_id}"


def test_wrong_key_is_an_auth_error_naming_what_and_the_base_url(make_hook: HookFactory, emulator: Any) -> None:
    hook = make_hook(key="not-the-key")
    with pytest.raises(DashAuthError) as caught:
        hook.get_query(1)
    text = str(caught.value)
    assert "API key may be wrong, or lack access to query 1" in text
    assert emulator.url in text
    assert count(emulator, route=QUERY_ROUTE, status=404) == 1  # 4xx: not retried


def test_query_key_outside_its_query_is_an_auth_error(make_hook: HookFactory, emulator: Any) -> None:
    hook = make_hook(key=query_api_key(emulator, 1), query_id=1)
    with pytest.raises(DashAuthError, match="lack access to query 5"):
        hook.get_query(5)


def test_5xx_is_retried_until_the_budget_then_raised(make_hook: HookFactory, emulator: Any) -> None:
    emulator.faults.configure(routes=[QUERY_ROUTE], error_rate=1.0, error_statuses=(503,))
    hook = make_hook(retries=2)
    with pytest.raises(DashApiError, match="HTTP 503") as caught:
        hook.get_query(1)
    assert caught.value.status == 503
    assert count(emulator, route=QUERY_ROUTE, status=503) == 3


def test_5xx_retried_then_success(make_hook: HookFactory, emulator: Any) -> None:
    emulator.faults.configure(routes=[QUERY_ROUTE], error_rate=0.5, error_statuses=(500, 502))
    hook = make_hook(retries=8)
    for query_id in range(1, 8):
        assert hook.get_query(query_id).id == query_id
    assert count(emulator, route=QUERY_ROUTE, status=200) == 7
    assert count(emulator, route=QUERY_ROUTE) > 7


def test_429_waits_for_retry_after(make_hook: HookFactory, emulator: Any) -> None:
    emulator.faults.configure(routes=[QUERY_ROUTE], rate_limit_every=2, retry_after=1)
    hook = make_hook(retries=2)
    hook.get_query(1)
    started = time.monotonic()
    hook.get_query(2)
    assert time.monotonic() - started >= 0.95
    assert count(emulator, route=QUERY_ROUTE, status=429) == 1
    assert count(emulator, route=QUERY_ROUTE, status=200) == 2


def test_dropped_connections_are_retried(make_hook: HookFactory, emulator: Any) -> None:
    emulator.faults.configure(routes=[QUERY_ROUTE], drop_rate=0.5)
    hook = make_hook(retries=8)
    for query_id in range(1, 8):
        assert hook.get_query(query_id).id == query_id
    assert count(emulator, route=QUERY_ROUTE, status=0) > 0


def test_down_server_is_a_connection_error_naming_the_base_url(
    make_hook: HookFactory, free_port: int, emulator: Any
) -> None:
    base = f"http://127.0.0.1:{free_port}"
    hook = make_hook(host=base, retries=1)
    with pytest.raises(DashConnectionError) as caught:
        hook.get_query(1)
    assert f"No answer from {base}" in str(caught.value)
    assert "after 2 attempt(s)" in str(caught.value)
    assert "Connection refused" in str(caught.value) or "Failed to establish" in str(caught.value)


def test_redirect_to_another_host_does_not_carry_the_key(monkeypatch: pytest.MonkeyPatch, emulator: Any) -> None:
    with stub_server() as target:
        with stub_server(redirect_to=f"http://localhost:{target.port}") as origin:
            set_connection(monkeypatch, "dash_redirect", f"http://127.0.0.1:{origin.port}", "redirect-key-123")
            with DashHook("dash_redirect") as hook:
                hook.get_session()
        assert origin.seen[0]["authorization"] == "Key redirect-key-123"
        assert target.seen[0]["authorization"] is None


def test_org_path_base_url(dash_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    org = dash_emulator_factory(base_path="/acme")
    assert org.url.endswith("/acme")
    set_connection(monkeypatch, "dash_org", org.url + "/", org.user_key)
    with DashHook("dash_org") as hook:
        assert hook.config.base_url == org.url
        assert hook.get_query(1).id == 1
        assert hook.run_query(5, poll_interval=0.2) > 0
    assert count(org, route="/api/queries/{query_id}", status=200) == 2  # queries 1 and 5


def test_connection_uri_form_from_the_plugin(
    dash_conn_uri: str, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DASH_URI", dash_conn_uri)
    with DashHook("dash_uri") as hook:
        assert hook.config.base_url == emulator.url
        assert hook.get_query(1).id == 1


def test_connection_with_a_user_key_names_user_and_version(hook: DashHook) -> None:
    ok, message = hook.test_connection()
    assert ok
    assert "as Admin" in message
    assert "server version" in message


def test_connection_with_a_wrong_key(make_hook: HookFactory) -> None:
    ok, message = make_hook(key="wrong-key").test_connection()
    assert not ok
    assert "the key is wrong, or is a query API key — set extra query_id to check it" in message


def test_connection_with_a_query_key(make_hook: HookFactory, emulator: Any) -> None:
    key = query_api_key(emulator, 1)
    ok, message = make_hook(key=key).test_connection()
    assert not ok
    assert "set extra query_id" in message
    ok, message = make_hook(key=key, query_id=1).test_connection()
    assert ok
    assert "query 1" in message
    ok, message = make_hook(key=key, query_id=5).test_connection()
    assert not ok
    assert "query 5" in message


def test_connection_to_a_down_server(make_hook: HookFactory, free_port: int) -> None:
    ok, message = make_hook(host=f"http://127.0.0.1:{free_port}", retries=5).test_connection()
    assert not ok
    assert f"Cannot reach http://127.0.0.1:{free_port}" in message


def test_connection_with_a_broken_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "dash_nohost", "", "k-12345")
    ok, message = DashHook("dash_nohost").test_connection()
    assert not ok
    assert "Connection 'dash_nohost' has no host" in message


def test_ui_field_behaviour() -> None:
    behaviour = DashHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert "extra" not in behaviour["hidden_fields"]
