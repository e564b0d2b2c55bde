"""Fixtures for the PostHog Endpoints tests: seeded emulators (G3, G1), Airflow connections to them, a hook."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator
from airflow_provider_dash.testing.posthog.demo import seed_demo


@pytest.fixture
def ph(posthog_emulator: PostHogEmulator) -> PostHogEmulator:
    """A G3 emulator with the demo data (``slow_signups`` takes 30 s per computed run)."""
    return seed_demo(posthog_emulator, slow_seconds=30)


@pytest.fixture
def ph_g1(posthog_emulator_g1: PostHogEmulator) -> PostHogEmulator:
    """A G1 emulator with the demo data."""
    return seed_demo(posthog_emulator_g1, slow_seconds=30)


@pytest.fixture
def ph_connection(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``make(conn_id="posthog_default", *, emulator=None, key=None, **extra) -> conn_id``: an Airflow
    connection (JSON env var, undone after the test) to ``emulator`` (default ``ph``), one retry unless told."""

    def make(
        conn_id: str = "posthog_default",
        *,
        emulator: PostHogEmulator | None = None,
        key: str | None = None,
        **extra: Any,
    ) -> str:
        emu = emulator if emulator is not None else request.getfixturevalue("ph")
        fields = {
            "conn_type": "posthog",
            "host": emu.url,
            "password": key or emu.personal_key,
            "extra": {"project_id": emu.project_id, "retries": 1, **extra},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return make


@pytest.fixture
def ph_conn_id(ph: PostHogEmulator, ph_connection: Callable[..., str]) -> str:
    """``posthog_default`` to ``ph`` with its personal key."""
    return ph_connection(emulator=ph)


@pytest.fixture
def make_hook() -> Iterator[Callable[[str], Any]]:
    """``make(conn_id)``: a PostHogHook, closed after the test."""
    from airflow_provider_dash.hooks.posthog import PostHogHook

    made: list[PostHogHook] = []

    def make(conn_id: str = "posthog_default") -> PostHogHook:
        hook = PostHogHook(conn_id)
        made.append(hook)
        return hook

    yield make
    for hook in made:
        hook.close()


@pytest.fixture
def hook(ph_conn_id: str, make_hook: Callable[[str], Any]) -> Any:
    """A PostHogHook on ``ph_conn_id``."""
    return make_hook(ph_conn_id)
