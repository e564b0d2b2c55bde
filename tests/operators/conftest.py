"""Fixtures for the operator, sensor and trigger tests: a throw-away Airflow DB, connections, dag.test()."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def dash_conn_id(dash_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection (environment variable) to ``dash_emulator`` with the admin's user key."""
    conn_id = "dash_emulator"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "dash",
                "host": dash_emulator.url,
                "password": dash_emulator.user_key,
                "extra": {"retries": 1},
            }
        ),
    )
    return conn_id


@pytest.fixture
def dash_hook(dash_conn_id: str) -> Iterator[Any]:
    """A DashHook on ``dash_conn_id`` (to act on the server as another client would)."""
    from airflow_provider_dash.hooks.dash import DashHook

    hook = DashHook(dash_conn_id)
    yield hook
    hook.close()
