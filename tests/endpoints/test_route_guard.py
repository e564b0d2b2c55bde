"""The route guard of PostHog: every (method, route) the client can send is one REFERENCE.md §2 describes,
and one the emulator serves (the emulator itself serves only routes of the reference)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dash.hooks import _posthog_routes
from airflow_provider_dash.hooks._posthog_routes import Route

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "posthog-endpoints" / "REFERENCE.md"


def described_routes(text: str) -> set[tuple[str, str]]:
    """(method, path template) pairs of the reference's route headings and query status bullets."""
    found: set[tuple[str, str]] = set()
    for methods, path in re.findall(
        r"`((?:GET|POST|PUT|PATCH|DELETE)(?:\|(?:GET|POST|PUT|PATCH|DELETE))*) ([^`\s]+)`", text
    ):
        path = path.replace("…/", "/").replace("{n}", "{version}").replace("{id}", "{query_id}")
        path = re.sub(r"\?.*$", "", path).lstrip("/")
        for method in methods.split("|"):
            found.add((method, path))
    return found


def undescribed(routes: list[Route], text: str) -> list[str]:
    described = described_routes(text)
    return [f"{r.method} {r.template}" for r in routes if (r.method, r.template) not in described]


needs_reference = pytest.mark.skipif(not REFERENCE.is_file(), reason=f"reference not found at {REFERENCE}")


@needs_reference
def test_every_route_the_client_sends_is_described_by_the_reference() -> None:
    assert len(_posthog_routes.ROUTES) == 11
    assert undescribed(_posthog_routes.ROUTES, REFERENCE.read_text()) == []


@needs_reference
def test_the_guard_names_a_made_up_route() -> None:
    made_up = Route("POST", "endpoints/{name}/refresh/")

    assert undescribed([made_up, _posthog_routes.RUN_ENDPOINT], REFERENCE.read_text()) == [
        "POST endpoints/{name}/refresh/"
    ]


@pytest.mark.parametrize("generation", ["g3", "g1"])
def test_the_emulator_serves_every_route_the_client_sends_in_its_generation(
    posthog_emulator_factory: Any, generation: str
) -> None:
    emu = posthog_emulator_factory(generation=generation)
    served = {(m, r.template) for r in emu.app.routes for m in r.methods}
    missing = [
        f"{r.method} {r.template}"
        for r in _posthog_routes.ROUTES
        if (r.method, r.template.rstrip("/").replace("{query_id}", "{id}")) not in served
        and not (r.g1_only and generation == "g3")
    ]

    assert missing == []
