"""The query status routes: ``GET|DELETE /api/projects/{project_id}/query/{id}/`` (scope ``query:read``).

REFERENCE.md §2.11 (status codes and messages), §3 (G3: synchronous runs have no status record;
G1: the background recalculation behind a 202), §7 rules 15-16.
"""

from __future__ import annotations

from . import errors
from .cache import DONE, QUEUED
from .errors import Reply
from .routing import Ctx

CANCELLED = "Cancelled query on clickhouse"
ALREADY_COMPLETE = "Query already complete"
DEQUEUE_ONLY = "Only tried to dequeue, not cancelling query on clickhouse"


async def query_status(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.11 GET /query/{id}/ (202 running, 200 done, 400 error with message, 500 without, 404 unknown)
    state = ctx.state
    query_id = ctx.args["query_id"]
    status = state.statuses.get(ctx.project_id, query_id, state.clock.now())
    if status is None:
        raise errors.not_found(f"Query {query_id} not found for team {ctx.project_id}")
    if status.phase != DONE:
        code = 202
    elif not status.error:
        code = 200
    else:
        code = 400 if status.error_message else 500
    return Reply(code, {"query_status": status.to_json()})


async def cancel_query(ctx: Ctx) -> Reply:
    # REFERENCE.md §2.11 DELETE /query/{id}/ (200 with a message, also for ids never seen; ?dequeue_only=true)
    state = ctx.state
    query_id = ctx.args["query_id"]
    status = state.statuses.get(ctx.project_id, query_id, state.clock.now())
    if status is not None and status.complete:
        return Reply(200, {"message": ALREADY_COMPLETE})
    if ctx.params.get("dequeue_only", "").lower() in ("true", "1"):
        if status is not None and status.phase == QUEUED:
            state.statuses.delete(ctx.project_id, query_id)
            if status.task is not None:
                status.task.cancel()
        return Reply(200, {"message": DEQUEUE_ONLY})
    state.inflight.cancel(ctx.project_id, query_id)
    if status is not None:
        state.statuses.delete(ctx.project_id, query_id)
        if status.task is not None:
            status.task.cancel()
    return Reply(200, {"message": CANCELLED})
