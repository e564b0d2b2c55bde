"""The README's examples run as written (against the emulator), so the README keeps telling the truth."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block(heading: str) -> str:
    text = README.read_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n.*?```python\n(.*?)```", text, re.S | re.M)
    assert match, f"no python example under the heading {heading!r} in README.md"
    return match.group(1)


def test_hook_example_runs_against_the_emulator(
    dash_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DASH_DEFAULT",
        json.dumps({"conn_type": "dash", "host": dash_emulator.url, "password": dash_emulator.user_key}),
    )
    code = _python_block("The hook").replace("/tmp/orders.csv", str(tmp_path / "orders.csv"))
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["result"].row_count > 0
    lines = (tmp_path / "orders.csv").read_text().splitlines()
    assert len(lines) == namespace["result"].row_count + 1  # header + rows


@pytest.mark.parametrize("heading", ["RunQueryOperator", "JobSensor", "RefreshDashboardOperator"])
def test_operator_examples_construct_without_network(heading: str) -> None:
    from airflow.sdk import DAG

    with DAG(dag_id=f"readme_{heading}", schedule=None):
        exec(compile(_python_block(heading), "README.md", "exec"), {})


def test_posthog_hook_example_runs_against_the_emulator(posthog_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dash.testing.posthog.demo import seed_demo

    emu = seed_demo(posthog_emulator)
    fields = {"conn_type": "posthog", "host": emu.url, "password": emu.personal_key}
    monkeypatch.setenv("AIRFLOW_CONN_POSTHOG_DEFAULT", json.dumps({**fields, "extra": {"project_id": emu.project_id}}))
    namespace: dict[str, Any] = {}
    exec(compile(_python_block("The PostHog hook"), "README.md", "exec"), namespace)
    assert namespace["run"].row_count == 90
    assert namespace["endpoint"].name == "daily_signups"


def test_posthog_operator_example_constructs_without_network() -> None:
    from airflow.sdk import DAG

    with DAG(dag_id="readme_posthog", schedule=None):
        exec(compile(_python_block("RunEndpointOperator"), "README.md", "exec"), {})


def test_posthog_connection_examples_read_to_the_same_connection() -> None:
    from airflow.models.connection import Connection

    from airflow_provider_dash.hooks._posthog_config import config_from_connection

    text = README.read_text()
    section = text[text.index("## PostHog Endpoints") : text.index("### The PostHog hook")]
    values = re.findall(r"export AIRFLOW_CONN_POSTHOG_DEFAULT='(.*?)'", section)
    assert len(values) == 2
    fields = json.loads(values[0])
    extra = json.dumps(fields.pop("extra"))
    configs = [
        config_from_connection(Connection(conn_id="posthog_default", **fields, extra=extra)),
        config_from_connection(Connection(conn_id="posthog_default", uri=values[1])),
    ]
    assert {(c.base_url, c.project_id, c.api_key) for c in configs} == {("https://us.posthog.com", 12345, "phx_<key>")}
    for label in ("Connection Type **PostHog Endpoints**", "PostHog URL", "Project id"):
        assert label in section  # the UI form's fields, as the provider info declares them
