"""The real OpenLineage provider, writing every event to a file: its listener registered for one test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


class OpenLineageEvents:
    """The OpenLineage events the provider's file transport wrote, read back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict[str, Any]]:
        """Every event written so far, in order."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def of_task(self, task_id: str, event_type: str = "COMPLETE") -> dict[str, Any]:
        """The one event of ``event_type`` a task emitted (the job name ends with ``.<task_id>``)."""
        found = [e for e in self.all() if e.get("eventType") == event_type and e["job"]["name"].endswith(f".{task_id}")]
        assert len(found) == 1, [(e.get("eventType"), e["job"]["name"]) for e in self.all()]
        return found[0]


@pytest.fixture
def openlineage_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenLineageEvents]:
    """OpenLineage on, with the file transport (one JSON event per line) configured for this test.

    The provider's settings are read through cached functions and its listener is registered when
    Airflow's plugins load, which may have happened before this test, with OpenLineage off: the
    caches are cleared and, unless the plugins registered one now, a listener is added to the task
    runner's listener manager; after the test every OpenLineage listener is removed.
    """
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener
    from airflow.sdk.listener import get_listener_manager

    path = tmp_path / "openlineage.jsonl"
    monkeypatch.setenv(
        "AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps({"type": "file", "log_file_path": str(path), "append": True})
    )
    # A thread, not a fork, emits the events: forking a test process that runs an emulator thread is unsafe.
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD", "True")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "dash-tests")

    def clear_settings() -> None:
        for value in vars(ol_conf).values():
            clear: Callable[[], None] | None = getattr(value, "cache_clear", None)
            if clear is not None:
                clear()

    def registered() -> list[Any]:
        return [p for p in manager.pm.get_plugins() if isinstance(p, OpenLineageListener)]

    clear_settings()
    manager = get_listener_manager()  # loading the plugins may register the provider's own listener
    if not registered():
        manager.add_listener(OpenLineageListener())
    yield OpenLineageEvents(path)
    for listener in registered():  # OpenLineage stays off for the tests after this one
        manager.pm.unregister(listener)
    clear_settings()
