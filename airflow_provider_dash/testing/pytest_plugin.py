"""pytest fixtures for the Redash emulator (registered through the ``pytest11`` entry point).

* ``dash_emulator``: a fresh emulator per test (demo data loaded, ``time_scale`` 1).
* ``dash_emulator_fast``: the same with ``time_scale=20`` (the 5 s demo query takes 0.25 s).
* ``dash_emulator_factory``: ``make(**kwargs)`` for emulators with other settings; all are
  stopped after the test.
* ``dash_emulator_session``: one emulator shared by a whole session (do not change its knobs).
* ``dash_conn_uri``: an Airflow connection URI pointing at ``dash_emulator`` with the user key.
* ``dash_conn_id``: the Airflow connection ``dash_default`` (the operators' default) pointing at
  ``dash_emulator`` with the user key, defined for this test only; use it to run your own DAGs.
* ``dash_connection``: ``make(conn_id="dash_default", *, emulator=None, host=None, key=None, **extra)``
  for connections with other ids, emulators, hosts, keys or extras (``retries=1``...); returns the id.
* ``dash_hook``: a ``DashHook`` on ``dash_conn_id``, closed after the test.

PostHog Endpoints (``airflow_provider_dash.testing.posthog``, imported only when used):

* ``posthog_emulator_factory``: ``make(**kwargs)`` for PostHog emulators with other settings
  (``generation``, ``time_scale``, ``limits``...); all are stopped after the test.
* ``posthog_emulator``: a fresh G3 (current server) emulator per test, no tables or endpoints.
* ``posthog_emulator_g1``: the same, emulating the first generation (G1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar
from urllib.parse import quote

import pytest

from .server import RedashEmulator

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash import DashHook
    from airflow_provider_dash.testing.posthog import PostHogEmulator


class _Emulator(Protocol):
    def start(self) -> Self: ...

    def stop(self) -> None: ...


Emulator = TypeVar("Emulator", bound=_Emulator)


def _emulator_factory(emulator_class: Callable[..., Emulator]) -> Iterator[Callable[..., Emulator]]:
    """The body of the factory fixtures: yield ``make(**kwargs)``, which starts an emulator of
    ``emulator_class``, then stop every one it started."""
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        emu = emulator_class(**kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def dash_emulator_factory() -> Iterator[Callable[..., RedashEmulator]]:
    """:return: a function starting emulators (keyword arguments of :class:`RedashEmulator`)."""
    yield from _emulator_factory(RedashEmulator)


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


@pytest.fixture
def dash_connection(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """:return: ``make(conn_id="dash_default", *, emulator=None, host=None, key=None, **extra) -> conn_id``,
    defining an Airflow connection (``AIRFLOW_CONN_<ID>``, JSON form, undone after the test) to
    ``emulator`` (default: ``dash_emulator``) or to the base URL ``host``, with ``key`` (default: the
    emulator's user key) and ``extra`` (``verify``, ``timeout``, ``retries``, ``query_id``)."""

    def make(
        conn_id: str = "dash_default",
        *,
        emulator: RedashEmulator | None = None,
        host: str | None = None,
        key: str | None = None,
        **extra: Any,
    ) -> str:
        if host is None or key is None:
            # dash_emulator is started only when no other emulator (or host and key) is given
            emu = emulator if emulator is not None else request.getfixturevalue("dash_emulator")
            host = emu.url if host is None else host
            key = emu.user_key if key is None else key
        fields: dict[str, Any] = {"conn_type": "dash", "host": host, "password": key}
        if extra:
            fields["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return make


@pytest.fixture
def dash_conn_id(dash_connection: Callable[..., str]) -> str:
    """:return: ``"dash_default"``, an Airflow connection to ``dash_emulator`` with its user key
    (the operators' default connection id, so a DAG under test needs no change)."""
    return dash_connection()


@pytest.fixture
def dash_hook(dash_conn_id: str) -> Iterator[DashHook]:
    """:return: a ``DashHook`` on ``dash_conn_id`` (to act on the server as another client would)."""
    from airflow_provider_dash.hooks.redash import DashHook  # imports Airflow: only when used

    hook = DashHook(dash_conn_id)
    yield hook
    hook.close()


@pytest.fixture
def posthog_emulator_factory() -> Iterator[Callable[..., PostHogEmulator]]:
    """:return: a function starting PostHog emulators (keyword arguments of ``PostHogEmulator``)."""
    from airflow_provider_dash.testing.posthog import PostHogEmulator  # starlette and pydantic: only when used

    yield from _emulator_factory(PostHogEmulator)


@pytest.fixture
def posthog_emulator(posthog_emulator_factory: Callable[..., PostHogEmulator]) -> PostHogEmulator:
    """:return: a running G3 PostHog emulator, fresh for this test (``emu.personal_key``,
    ``emu.secret_key``, ``emu.project_id``, ``emu.url``; add data with ``add_table``/``add_endpoint``)."""
    return posthog_emulator_factory()


@pytest.fixture
def posthog_emulator_g1(posthog_emulator_factory: Callable[..., PostHogEmulator]) -> PostHogEmulator:
    """:return: a running PostHog emulator of the first generation (G1 keys, shapes and 202 path)."""
    return posthog_emulator_factory(generation="g1")
