"""The README's Tools examples hold: the operators construct without network, the Python example runs."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_block(heading: str) -> str:
    match = re.search(rf"^#+ {re.escape(heading)}\n.*?```python\n(.*?)```", README.read_text(), re.S | re.M)
    assert match, f"no python example under the heading {heading!r} in README.md"
    return match.group(1)


def test_the_tool_operators_example_builds_a_backup_then_scan_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import DAG

    def no_network(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"the example opened a connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    namespace: dict[str, Any] = {}
    with DAG(dag_id="readme_tools", schedule=None):
        exec(compile(_python_block("Tool operators"), "README.md", "exec"), namespace)
    assert namespace["scan"].upstream_task_ids == {"backup_queries"}


def test_the_python_example_scans_the_emulator(dash_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dash_emulator.add_query("contact", "select 'jane.doe@example.com' as email")
    monkeypatch.setenv("DASH_API_KEY", dash_emulator.user_key)
    code = _python_block("From Python").replace("https://redash.example.com", dash_emulator.url)
    namespace: dict[str, Any] = {}

    exec(compile(code, "README.md", "exec"), namespace)

    assert [(m.kind, m.where) for m in namespace["report"].matches] == [("query", "SQL")]
