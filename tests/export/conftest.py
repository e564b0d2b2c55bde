"""Fixtures for the gate and sensor tests: a connection to the emulator and a hook on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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
    """A DashHook on ``dash_conn_id``."""
    from airflow_provider_dash.hooks.dash import DashHook

    hook = DashHook(dash_conn_id)
    yield hook
    hook.close()


@pytest.fixture
def sql_query(dash_emulator: Any) -> Callable[[str], int]:
    """``make(sql)``: save a query returning exactly what ``sql`` selects; return its id."""
    made = iter(range(1, 10_000))

    def make(sql: str, name: str | None = None) -> int:
        return int(dash_emulator.add_query(name or f"gate query {next(made)}", sql))

    return make
