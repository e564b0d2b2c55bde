"""Fixtures for the PostHog emulator's own tests: one HTTP client, seeded emulators, a small API helper."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_dash.testing.posthog import PostHogEmulator

SIGNUPS = [
    ("2026-04-29", "US", 11),
    ("2026-04-29", "DE", 4),
    ("2026-04-30", "US", 118),
    ("2026-04-30", "DE", 20),
    ("2026-05-01", "US", 131),
    ("2026-05-01", "US' OR 1=1 --", 999),
]
DAILY_SQL = "SELECT day, sum(n) AS n FROM signups WHERE country = {variables.country} GROUP BY day ORDER BY day"


def seed(emu: PostHogEmulator, **endpoint: Any) -> PostHogEmulator:
    """Add the ``signups`` table and the ``daily_signups`` endpoint (variable ``country``, default US)."""
    emu.add_table("signups", [("day", "TEXT"), ("country", "TEXT"), ("n", "INTEGER")], SIGNUPS)
    emu.add_endpoint("daily_signups", DAILY_SQL, variables={"country": "US"}, **endpoint)
    return emu


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """:return: the first truthy value of ``predicate()``. :raises AssertionError: after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)  # polling a condition, bounded by the deadline
    raise AssertionError("condition not reached in time")


class Api:
    """Requests to one emulator's project, with its personal key unless another is given."""

    def __init__(self, http: httpx.Client, emu: PostHogEmulator) -> None:
        self.http = http
        self.emu = emu

    def call(
        self, method: str, path: str, key: str | None = None, prefix: str = "projects", **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", None)
        if headers is None:
            headers = self.emu.headers(key)
        url = self.emu.api_url(path, kwargs.pop("project_id", None), prefix)
        return self.http.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.call("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.call("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("DELETE", path, **kwargs)

    def run(self, name: str = "daily_signups", body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.post(f"endpoints/{name}/run/", json=body if body is not None else {}, **kwargs)


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One HTTP client for the session (building one costs more than most tests)."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture
def emu(posthog_emulator: PostHogEmulator) -> PostHogEmulator:
    """A G3 emulator with the ``signups`` table and the ``daily_signups`` endpoint."""
    return seed(posthog_emulator)


@pytest.fixture
def emu_g1(posthog_emulator_g1: PostHogEmulator) -> PostHogEmulator:
    """A G1 emulator with the ``signups`` table and the ``daily_signups`` endpoint."""
    return seed(posthog_emulator_g1)


@pytest.fixture
def api(http: httpx.Client, emu: PostHogEmulator) -> Api:
    """Requests to the seeded G3 emulator."""
    return Api(http, emu)


@pytest.fixture
def api_g1(http: httpx.Client, emu_g1: PostHogEmulator) -> Api:
    """Requests to the seeded G1 emulator."""
    return Api(http, emu_g1)


def envelope(response: httpx.Response) -> tuple[int, str, str, str, Any]:
    """:return: (status, type, code, detail, attr) of an exceptions-hog answer (and checks its keys)."""
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}, body
    return response.status_code, body["type"], body["code"], body["detail"], body["attr"]
