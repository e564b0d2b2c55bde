"""Running an operator in-process the way a worker and a triggerer would, without a scheduler.

``execute`` is called with a small stand-in context; each deferral's trigger is rebuilt from its
serialised kwargs (as the triggerer stores it) and run in a fresh event loop, then the task resumes
with the event. The same approach as ``tests/dag_helpers.py``; kept here so the benchmarks do not
import the test suite.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib
import json
from collections.abc import Callable
from typing import Any


class TaskInstanceStandIn:
    """Just enough of Airflow's runtime task instance for ``execute``: XCom push, start date, try number."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}
        self.start_date = dt.datetime.now(dt.UTC)
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep the value."""
        self.xcoms[key] = value


class StateStoreStandIn:
    """An in-memory ``task_state_store`` (Airflow 3.3: get / set / delete)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """The value, or ``default``."""
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        """Keep the value."""
        self.values[key] = value

    def delete(self, key: str) -> None:
        """Forget the value."""
        self.values.pop(key, None)


def make_context() -> dict[str, Any]:
    """A task context for direct ``execute`` calls."""
    return {"ti": TaskInstanceStandIn(), "task_state_store": StateStoreStandIn()}


def run_trigger(trigger: Any) -> Any:
    """Rebuild ``trigger`` from its JSON-serialised kwargs, run it to its first event, return the payload."""
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))

    async def first_event() -> Any:
        gen = rebuilt.run()
        try:
            return await gen.__anext__()
        finally:
            await gen.aclose()
            await rebuilt.cleanup()

    return asyncio.run(first_event()).payload


def run_inline(operator: Any, context: dict[str, Any] | None = None) -> tuple[Any, int]:
    """Call ``execute``; for each deferral run the trigger, then resume, until the task returns.

    :return: the task's return value and how many times it deferred.
    """
    from airflow.sdk.exceptions import TaskDeferred

    context = context if context is not None else make_context()
    call: Callable[[], Any] = functools.partial(operator.execute, context)
    deferrals = 0
    while True:
        try:
            return call(), deferrals
        except TaskDeferred as deferred:
            deferrals += 1
            event = run_trigger(deferred.trigger)
            method = getattr(operator, deferred.method_name)
            call = functools.partial(method, context, event=event, **(deferred.kwargs or {}))
