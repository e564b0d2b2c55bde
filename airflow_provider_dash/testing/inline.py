"""Run an operator in-process the way a worker and a triggerer would, without a scheduler.

``execute`` is called with a small stand-in context; each deferral's trigger is rebuilt from its
JSON-serialised kwargs (as the triggerer stores it) and run to its first event in a fresh event
loop, then the task resumes with that event. Useful for testing a DAG's tasks one by one against the
emulator, and used by this project's tests and benchmarks.
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
    """Just enough of Airflow's runtime task instance for ``execute``: XCom push, start date, try number.

    :ivar xcoms: what the task pushed, by key.
    :ivar on_push: called with ``(key, value)`` on every push (e.g. to act when a job id appears).
    """

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}
        self.start_date = dt.datetime.now(dt.UTC)
        self.try_number = 1
        self.on_push: Callable[[str, Any], None] | None = None

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep the value (and tell ``on_push``)."""
        self.xcoms[key] = value
        if self.on_push is not None:
            self.on_push(key, value)


class StateStoreStandIn:
    """An in-memory ``task_state_store`` (Airflow 3.3's accessor API: get / set / delete)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """:return: the value, or ``default``."""
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        """Keep the value."""
        self.values[key] = value

    def delete(self, key: str) -> None:
        """Forget the value."""
        self.values.pop(key, None)


def make_context(*, state_store: bool = True) -> dict[str, Any]:
    """:return: a task context for direct ``execute`` calls (with a task state store unless told not to)."""
    context: dict[str, Any] = {"ti": TaskInstanceStandIn()}
    if state_store:
        context["task_state_store"] = StateStoreStandIn()
    return context


def run_trigger(trigger: Any) -> Any:
    """Rebuild ``trigger`` from its JSON-serialised kwargs, run it to its first event.

    :return: the event's payload.
    """
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


def run_inline(operator: Any, context: dict[str, Any] | None = None, triggers: list[Any] | None = None) -> Any:
    """Call ``execute``; for each deferral run the trigger, then resume, until the task returns or raises.

    :param context: the task context (default: :func:`make_context`).
    :param triggers: if given, every trigger the task deferred to is appended to it.
    :return: the task's return value.
    """
    from airflow.sdk.exceptions import TaskDeferred

    context = context if context is not None else make_context()
    call: Callable[[], Any] = functools.partial(operator.execute, context)
    while True:
        try:
            return call()
        except TaskDeferred as deferred:
            if triggers is not None:
                triggers.append(deferred.trigger)
            event = run_trigger(deferred.trigger)
            method = getattr(operator, deferred.method_name)
            call = functools.partial(method, context, event=event, **(deferred.kwargs or {}))
