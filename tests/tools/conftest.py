"""Fixtures for the toolbelt tests: Airflow-free clients of emulators, and a pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dash.hooks.redash_client import RedashClient
from airflow_provider_dash.pool import BoundedPool


@pytest.fixture
def client_of() -> Iterator[Callable[..., RedashClient]]:
    """``client_of(emulator, key=None, retries=1)``: a :class:`RedashClient` of that emulator (closed after)."""
    made: list[RedashClient] = []

    def make(emulator: Any, key: str | None = None, retries: int = 1) -> RedashClient:
        client = RedashClient.from_url(emulator.url, key or emulator.user_key, retries=retries)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(dash_emulator: Any, client_of: Callable[..., RedashClient]) -> RedashClient:
    """A client of ``dash_emulator`` with its user key."""
    return client_of(dash_emulator)


@pytest.fixture
def pool() -> Iterator[BoundedPool]:
    """Eight requests in flight at most (the tools' default)."""
    with BoundedPool(8) as bounded:
        yield bounded


@pytest.fixture
def second_emulator(dash_emulator_factory: Callable[..., Any]) -> Any:
    """Another server, empty but for a data source named like the demo's (``sample-pg``)."""
    emulator = dash_emulator_factory(demo_data=False)
    emulator.objects.add_data_source("sample-pg", "pg")
    return emulator
