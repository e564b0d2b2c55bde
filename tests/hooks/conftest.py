"""Fixtures for the hook tests: hooks wired to the Redash emulator through real Airflow connections."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from airflow_provider_dash.hooks.dash import DashHook

HookFactory = Callable[..., DashHook]


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, key: str, **extra: Any) -> None:
    """Define an Airflow connection through its environment variable (JSON form)."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "dash", "host": host, "password": key, "extra": extra}),
    )


@pytest.fixture
def emulator(dash_emulator: Any) -> Any:
    """A fresh emulator with the recorded server's demo data, one per test (the provider's plugin)."""
    return dash_emulator


@pytest.fixture
def make_hook(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[HookFactory]:
    """Build DashHooks on fresh connections to the emulator: ``make_hook(key=..., retries=...)``."""
    hooks: list[DashHook] = []

    def factory(*, key: str | None = None, host: str | None = None, **extra: Any) -> DashHook:
        conn_id = f"dash_test_{len(hooks)}"
        extra.setdefault("retries", 2)
        set_connection(monkeypatch, conn_id, host or emulator.url, key or emulator.user_key, **extra)
        hook = DashHook(conn_id)
        hooks.append(hook)
        return hook

    yield factory
    for hook in hooks:
        hook.close()


@pytest.fixture
def hook(make_hook: HookFactory) -> DashHook:
    """A hook with the emulator's admin user key."""
    return make_hook()


def query_api_key(emulator: Any, query_id: int) -> str:
    """A query's own API key, read the way a Redash user would (``api_key`` of the query object)."""
    response = requests.get(
        f"{emulator.url}/api/queries/{query_id}", headers={"Authorization": f"Key {emulator.user_key}"}, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["api_key"])


@pytest.fixture
def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count(emulator: Any, **filters: Any) -> int:
    """The emulator's request counter (a request is counted before its answer is sent)."""
    return int(emulator.counters.requests(**filters))
