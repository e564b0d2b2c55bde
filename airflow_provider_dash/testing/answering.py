"""How both emulators answer one HTTP request: the injected latency, then the answer or a dropped
connection, and the request counted once, before its answer goes out.

Shared by the Redash and PostHog emulators; each decides its own answer (routes, handlers, injected
errors) in the ``answer`` it passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from .counters import Counters
from .faults import FaultDecision, FaultInjector


async def answer_and_count(
    scope: dict[str, Any],
    receive: Any,
    send: Any,
    *,
    template: str,
    counters: Counters,
    faults: FaultInjector,
    answer: Callable[[FaultDecision], Awaitable[Response | None]],
    drop: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Answer the HTTP request ``scope`` and count it under its route ``template``.

    The fault injector's decision comes first (with its latency); then ``answer(decision)`` gives
    the response, or None to close the connection without one (counted with status 0, through
    ``drop(scope)``). The request is counted as soon as its status is known, before the answer is
    sent (a client holding the answer finds it counted); when answering fails, at the end.
    """
    counters.request_began()
    method = scope["method"].upper()
    path = scope["path"]
    query = scope.get("query_string") or b""
    target = path + ("?" + query.decode("latin-1") if query else "")
    status = 0
    recorded = False
    try:
        decision = faults.decide(template, path, method)
        if decision.latency > 0:
            await asyncio.sleep(decision.latency)
        response = await answer(decision)
        if response is None:
            recorded = True
            counters.record_request(template, method, 0, target)
            await drop(scope)
            return
        status = response.status_code
        recorded = True
        counters.record_request(template, method, status, target)
        await response(scope, receive, send)
    finally:
        if not recorded:
            counters.record_request(template, method, status, target)
        counters.request_ended()
