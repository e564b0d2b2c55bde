"""The route guard: nothing we send, and nothing the emulator serves, that a real Redash was not seen doing.

The client side reads :data:`airflow_provider_dash.hooks._redash_routes.ROUTES`, the one place every
request of the hook and the async client is built from (a ``Request`` can only be made from a
``Route``). Each (method, route) must appear in a recording of a real server answering 2xx: the
cancel route ``DELETE /api/queries/<qid>/jobs/<id>`` was exactly such a route (it answers 500 and
the job runs on). The emulator side reads the emulator's routing table: each (method, route) it
serves must appear in some recording, whatever the status, since a behaviour invented in the
emulator is one no test of ours can check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dash.hooks import _redash_routes
from airflow_provider_dash.hooks._redash_routes import Route
from airflow_provider_dash.testing import RedashEmulator

RECORDINGS = Path(__file__).resolve().parents[1].parent / "shared" / "redash-api" / "recordings"


def recorded_calls(folder: Path = RECORDINGS) -> list[tuple[str, str, str, int]]:
    """Every recorded request: (method, path without query string, query string, status)."""
    calls = []
    for file in sorted(folder.glob("*.json")):
        for call in json.loads(file.read_text())["calls"]:
            if "request" not in call:
                continue  # a summary of a burst, no request of its own
            path, _, query = call["request"]["path"].partition("?")
            calls.append((call["request"]["method"].upper(), path, query, int(call["response"]["status"])))
    return calls


def _template_regex(template: str) -> tuple[re.Pattern[str], str]:
    path, _, fixed_query = template.partition("?")
    parts = re.split(r"(\{[a-z_]+\})", path)
    pattern = "".join(r"[^/?.]+" if re.fullmatch(r"\{[a-z_]+\}", p) else re.escape(p) for p in parts)
    return re.compile(f"^/{pattern}$"), fixed_query


def unrecorded_client_routes(routes: Iterable[Route], calls: list[tuple[str, str, str, int]]) -> list[str]:
    """The routes no recorded call shows answering 2xx, as ``"METHOD /template"``."""
    missing = []
    for route in routes:
        regex, fixed_query = _template_regex(route.template)
        seen = any(
            method == route.method and 200 <= status < 300 and regex.match(path) and fixed_query in query.split("&")
            for method, path, query, status in calls
            if not fixed_query or fixed_query in query.split("&")
        )
        if not seen:
            missing.append(f"{route.method} /{route.template}")
    return missing


def unrecorded_emulator_routes(emulator: RedashEmulator, calls: list[tuple[str, str, str, int]]) -> list[str]:
    """The (method, route) pairs the emulator serves that no recorded call shows, whatever its status."""
    missing = []
    for route in emulator.app.routes:
        for method in route.handlers:
            if not any(m == method and route.pattern.match(path) for m, path, _, _ in calls):
                missing.append(f"{method} {route.template}")
    return missing


needs_recordings = pytest.mark.skipif(not RECORDINGS.is_dir(), reason=f"recordings not found at {RECORDINGS}")


@needs_recordings
def test_every_route_the_client_sends_was_recorded_answering_2xx() -> None:
    assert len(_redash_routes.ROUTES) >= 20  # the registry is really the list of routes
    assert unrecorded_client_routes(_redash_routes.ROUTES, recorded_calls()) == []


@needs_recordings
def test_the_guard_names_a_made_up_route_and_the_query_scoped_cancel() -> None:
    made_up = Route("POST", "api/queries/{query_id}/teleport")
    query_scoped_cancel = Route("DELETE", "api/queries/{query_id}/jobs/{job_id}", job_route=True)
    slug_without_legacy = Route("GET", "api/dashboards/{slug}?nolegacy")

    missing = unrecorded_client_routes(
        [made_up, query_scoped_cancel, slug_without_legacy, _redash_routes.CANCEL_JOB], recorded_calls()
    )

    # The query-scoped DELETE was recorded, but only answering 500: it is not a route to send.
    assert missing == [
        "POST /api/queries/{query_id}/teleport",
        "DELETE /api/queries/{query_id}/jobs/{job_id}",
        "GET /api/dashboards/{slug}?nolegacy",
    ]


@needs_recordings
def test_the_emulator_serves_only_recorded_routes() -> None:
    with RedashEmulator(demo_data=False) as emulator:
        assert unrecorded_emulator_routes(emulator, recorded_calls()) == []


@needs_recordings
def test_the_emulator_guard_names_an_invented_route() -> None:
    with RedashEmulator(demo_data=False) as emulator:

        async def invented(ctx: Any) -> Any:
            raise AssertionError("never called")

        emulator.app._add(
            "/api/queries/(?P<query_id>[^/]+)/teleport", "/api/queries/{query_id}/teleport", {"POST": invented}
        )
        assert unrecorded_emulator_routes(emulator, recorded_calls()) == ["POST /api/queries/{query_id}/teleport"]


def test_an_unrecorded_method_on_a_known_route_answers_like_an_unknown_route(dash_emulator: Any) -> None:
    import requests

    response = requests.put(
        dash_emulator.url + "/api/queries/1", headers=dash_emulator.headers(), json={"name": "x"}, timeout=10
    )
    unknown = requests.get(dash_emulator.url + "/api/no-such-route", headers=dash_emulator.headers(), timeout=10)
    assert (response.status_code, response.json()) == (unknown.status_code, unknown.json()) == (404, unknown.json())
    assert "not found on the server" in unknown.json()["message"]
