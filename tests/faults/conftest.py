"""Fixtures for the fault suite: an emulator with seeded faults and connections tuned to survive them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.testing.faults import FaultConfig, FaultInjector

#: The connection's HTTP timeout in the fault tests, and the latency of the "slow" answers.
HTTP_TIMEOUT = 0.5
SLOW_LATENCY = 0.8
#: Retries per request: enough that the seeded fault mix never exhausts them.
RETRIES = 8

#: Three quick queries (distinct SQL, so Redash never shares a job between them), one with a parameter.
QUERIES: dict[str, tuple[str, list[dict[str, Any]] | None]] = {
    "count": ("SELECT count(*) AS n FROM orders", None),
    "total": ("SELECT sum(amount) AS total FROM orders", None),
    "region": (
        "SELECT count(*) AS n FROM orders WHERE region = '{{ region }}'",
        [
            {
                "name": "region",
                "title": "Region",
                "type": "enum",
                "enumOptions": "north\nsouth\neast\nwest",
                "value": "north",
            }
        ],
    ),
}


def apply_faults(emu: Any, *, seed: int = 6, slow_rate: float = 0.1, **config: Any) -> FaultInjector:
    """Give ``emu`` a fresh injector with the issue's fault mix (overridable): 30% 500/502/503, 429 with
    Retry-After 1 every 7th request, 5% dropped connections, ``slow_rate`` of answers slower than the
    timeout, one malformed JSON body."""
    settings: dict[str, Any] = {
        "error_rate": 0.3,
        "error_statuses": (500, 502, 503),
        "rate_limit_every": 7,
        "retry_after": 1,
        "drop_rate": 0.05,
        "malformed_next": 1,
        "latency": SLOW_LATENCY,
        "latency_rate": slow_rate,
    }
    settings.update(config)
    injector = FaultInjector(seed=seed, config=FaultConfig(**settings))
    emu.faults = injector
    return injector


def set_dash_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, key: str, **extra: Any) -> str:
    """Define an Airflow connection through its environment variable; return its id."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "dash", "host": host, "password": key, "extra": extra}),
    )
    return conn_id


@pytest.fixture
def emu(dash_emulator_factory: Callable[..., Any]) -> Any:
    """An emulator in real time (``max_age`` then means real seconds) with the fault suite's queries."""
    emulator = dash_emulator_factory(seed=6, workers=4)
    emulator.query_ids = {
        name: emulator.add_query(name, sql, params, delay=0.2) for name, (sql, params) in QUERIES.items()
    }
    emulator.dashboard_id = emulator.add_dashboard(
        "Faults",
        [
            emulator.query_ids["count"],
            "a text widget",
            emulator.query_ids["total"],
            emulator.query_ids["count"],  # the same query twice: one run
            {
                "query_id": emulator.query_ids["region"],
                "parameterMappings": {
                    "region": {
                        "name": "region",
                        "type": "dashboard-level",
                        "mapTo": "region",
                        "value": None,
                        "title": "",
                    }
                },
            },
        ],
    )
    return emulator


@pytest.fixture
def conn_id(emu: Any, dash_connection: Callable[..., str]) -> str:
    """A connection to ``emu`` with a short HTTP timeout and a retry budget sized for the fault mix."""
    return dash_connection("dash_faults", emulator=emu, timeout=HTTP_TIMEOUT, retries=RETRIES)


@pytest.fixture
def hook(conn_id: str) -> Iterator[DashHook]:
    """A DashHook on ``conn_id``."""
    with DashHook(conn_id) as made:
        yield made


def settle(emu: Any, timeout: float = 10.0) -> None:
    """Return once the emulator handles no request and runs no job (late, slowed requests included)."""
    deadline = time.monotonic() + timeout
    while (emu.counters.concurrent_requests or emu.counters.in_flight) and time.monotonic() < deadline:
        time.sleep(0.02)
