"""pytest fixtures for the Redash emulator (registered through the ``pytest11`` entry point).

* ``dash_emulator``: a fresh emulator per test (demo data loaded, ``time_scale`` 1).
* ``dash_emulator_fast``: the same with ``time_scale=20`` (the 5 s demo query takes 0.25 s).
* ``dash_emulator_factory``: ``make(**kwargs)`` for emulators with other settings; all are
  stopped after the test.
* ``dash_emulator_session``: one emulator shared by a whole session (do not change its knobs).
* ``dash_conn_uri``: an Airflow connection URI pointing at ``dash_emulator`` with the user key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from .server import RedashEmulator


@pytest.fixture
def dash_emulator_factory() -> Iterator[Callable[..., RedashEmulator]]:
    """:return: a function starting emulators (keyword arguments of :class:`RedashEmulator`)."""
    started: list[RedashEmulator] = []

    def make(**kwargs: Any) -> RedashEmulator:
        emu = RedashEmulator(**kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def dash_emulator(dash_emulator_factory: Callable[..., RedashEmulator]) -> RedashEmulator:
    """:return: a running emulator with the demo data, fresh for this test."""
    return dash_emulator_factory()


@pytest.fixture
def dash_emulator_fast(dash_emulator_factory: Callable[..., RedashEmulator]) -> RedashEmulator:
    """:return: a running emulator whose time runs 20 times faster."""
    return dash_emulator_factory(time_scale=20)


@pytest.fixture(scope="session")
def dash_emulator_session() -> Iterator[RedashEmulator]:
    """:return: one running emulator for the whole test session."""
    with RedashEmulator() as emu:
        yield emu


@pytest.fixture
def dash_conn_uri(dash_emulator: RedashEmulator) -> str:
    """:return: ``dash://:<user key>@127.0.0.1:<port>/?schema=http``-style URI for Airflow
    (set it as ``AIRFLOW_CONN_<ID>``); the key is in the password field."""
    host = f"{dash_emulator.host}:{dash_emulator.port}"
    path = quote(dash_emulator.base_path or "", safe="")
    return f"dash://:{quote(dash_emulator.user_key, safe='')}@{host}/{path}?__extra__=%7B%22protocol%22%3A%22http%22%7D"
