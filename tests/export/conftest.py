"""Fixtures for these tests (the connection and hook fixtures, ``dash_conn_id`` and ``dash_hook``, come
from the emulator's pytest plugin): saved queries made from SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def sql_query(dash_emulator: Any) -> Callable[[str], int]:
    """``make(sql)``: save a query returning exactly what ``sql`` selects; return its id."""
    made = iter(range(1, 10_000))

    def make(sql: str, name: str | None = None) -> int:
        return int(dash_emulator.add_query(name or f"gate query {next(made)}", sql))

    return make
