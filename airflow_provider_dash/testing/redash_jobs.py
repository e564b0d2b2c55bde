"""The Redash emulator's job handlers: a job's status, and cancelling it (on the one route that does)."""

from __future__ import annotations

from starlette.responses import Response

from .redash_http import INTERNAL, Ctx, HTTPError, json_response


async def get_job(ctx: Ctx) -> Response:
    """:return: ``{"job": ...}``. :raises HTTPError: 500 for an unknown or expired job, as Redash."""
    job = ctx.state.jobs.get(ctx.args["job_id"])
    if job is None:
        raise HTTPError(500, INTERNAL)
    return json_response({"job": job.to_json()})


async def cancel_job(ctx: Ctx) -> Response:
    """:return: null. :raises HTTPError: 500 for an unknown or finished job."""
    # job_cancel_running_slow_query.json, job_cancel_queued.json, job_cancel_routes_user_key.json
    if not ctx.state.jobs.cancel(ctx.args["job_id"]):
        raise HTTPError(500, INTERNAL)
    return json_response(None)


async def cancel_job_wrong_route(ctx: Ctx) -> Response:
    """:raises HTTPError: always 500; the job runs on."""
    # job_cancel_routes_user_key.json, job_cancel_query_api_key.json: this route serves GET only;
    # its DELETE reaches a handler that takes no query id, answers 500, and the job runs on.
    raise HTTPError(500, INTERNAL)
