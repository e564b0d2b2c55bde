"""The API key never shows: not in logs (every logger at DEBUG, fixture ``debug_logs``), not in exception
texts or reprs (operator runs: tests/faults/test_secrets_everywhere.py)."""

from __future__ import annotations

import asyncio
import io
import traceback
from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashError
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.hooks.dash_async import DashAsyncClient

from .conftest import set_connection

SECRET = "sekrit-key-4f9a7c21"


def _texts(error: BaseException) -> list[str]:
    out = [str(error), repr(error), "".join(traceback.format_exception(error))]
    out.extend(str(getattr(error, name, "")) for name in ("url", "server_message", "method"))
    return out


def _assert_clean(caplog: pytest.LogCaptureFixture, errors: list[BaseException], *extra: Any) -> None:
    assert caplog.records, "expected some log records at DEBUG"
    for record in caplog.records:
        assert SECRET not in record.getMessage(), record.name
        assert SECRET not in repr(record.args), record.name
    assert SECRET not in caplog.text
    for error in errors:
        for text in _texts(error):
            assert SECRET not in text
    for thing in extra:
        assert SECRET not in repr(thing)
        assert SECRET not in str(thing)


def test_key_never_in_logs_or_errors_sync(
    debug_logs: pytest.LogCaptureFixture, emulator: Any, monkeypatch: pytest.MonkeyPatch, free_port: int
) -> None:
    errors: list[BaseException] = []
    # A wrong key (auth failure), on a server with injected 5xx and drops, and a down server.
    set_connection(monkeypatch, "dash_secret", emulator.url, SECRET, retries=1)
    set_connection(monkeypatch, "dash_secret_down", f"http://127.0.0.1:{free_port}", SECRET, retries=1)
    hook = DashHook("dash_secret")
    calls = [
        lambda: hook.get_query(1),
        lambda: hook.execute_query(1, check_parameters=False),
        lambda: hook.get_job("no-such-job"),
        lambda: hook.download_query_result(1, io.BytesIO()),
        lambda: hook.list_queries(),
        lambda: DashHook("dash_secret_down").get_session(),
    ]
    for call in calls:
        try:
            call()
        except DashError as error:
            errors.append(error)
    ok, message = hook.test_connection()
    assert not ok
    assert len(errors) == len(calls)
    _assert_clean(debug_logs, errors, hook.config, hook, message, hook.get_conn().auth)


def test_key_never_in_logs_or_errors_with_a_working_key(
    debug_logs: pytest.LogCaptureFixture, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.faults.configure(routes=["/api/queries/{query_id}"], error_rate=1.0, error_statuses=(500,))
    set_connection(monkeypatch, "dash_ok", emulator.url, emulator.user_key, retries=1)
    hook = DashHook("dash_ok")
    with pytest.raises(DashError) as caught:
        hook.get_query(1)
    hook.get_session()
    key = emulator.user_key
    for record in debug_logs.records:
        assert key not in record.getMessage()
    for text in _texts(caught.value):
        assert key not in text
    assert key not in repr(hook.config)


def test_key_never_in_logs_or_errors_async(
    debug_logs: pytest.LogCaptureFixture, emulator: Any, monkeypatch: pytest.MonkeyPatch, free_port: int
) -> None:
    set_connection(monkeypatch, "dash_secret_async", emulator.url, SECRET, retries=1)
    set_connection(monkeypatch, "dash_secret_async_down", f"http://127.0.0.1:{free_port}", SECRET, retries=1)
    errors: list[BaseException] = []
    clients: list[DashAsyncClient] = []
    refusals: list[Any] = []  # a wrong key's cancel is refused (Redash's 404), not raised

    async def main() -> None:
        for conn_id in ("dash_secret_async", "dash_secret_async_down"):
            async with await DashAsyncClient.from_conn_id(conn_id) as client:
                clients.append(client)
                for call in (lambda: client.get_job("no-such-job"), lambda: client.cancel_job("x", 3)):
                    try:
                        refusals.append(await call())
                    except DashError as error:
                        errors.append(error)

    asyncio.run(main())
    assert len(errors) + len(refusals) == 4
    assert [outcome.state for outcome in refusals] == ["refused"]
    _assert_clean(debug_logs, errors, *clients, *(c.config for c in clients), *refusals, refusals[0].message)
