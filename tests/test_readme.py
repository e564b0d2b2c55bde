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
