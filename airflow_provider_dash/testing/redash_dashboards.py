"""The Redash emulator's handlers of dashboards, their widgets, and visualizations."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .redash_http import (
    CONFLICT,
    INTERNAL,
    NOT_FOUND,
    Ctx,
    HTTPError,
    apply_fields,
    int_or_500,
    json_response,
    lookup,
    page_response,
    require_user,
)
from .redash_time import utcnow


def _dashboard_list(ctx: Ctx) -> list[Any]:
    items = [d for d in ctx.state.objects.dashboards.values() if not d.is_archived]
    term = (ctx.request.query_params.get("q") or "").lower()
    if term:
        items = [d for d in items if term in d.name.lower()]
    tags = ctx.request.query_params.getlist("tags")
    if tags:
        items = [d for d in items if set(tags) <= set(d.tags)]
    items.sort(key=lambda d: (d.created_at, d.id), reverse=True)
    return items


async def list_dashboards(ctx: Ctx) -> Response:
    """:return: a page of the dashboards not archived, newest first (``q``, ``tags`` applied)."""
    objs = ctx.state.objects
    return page_response(ctx, _dashboard_list(ctx), lambda d: objs.dashboard_json(d))


async def favorite_dashboards(ctx: Ctx) -> Response:
    """:return: an empty page (nothing is anyone's favourite)."""
    return page_response(ctx, [], lambda d: d)


async def get_dashboard(ctx: Ctx) -> Response:
    """:return: the dashboard with its widgets, by id (or by slug with ``?legacy``)."""
    objs = ctx.state.objects
    ident = ctx.args["dashboard_id"]
    if "legacy" in ctx.request.query_params:
        dashboard = next((d for d in objs.dashboards.values() if d.slug == ident), None)
    else:
        dashboard = objs.dashboards.get(int_or_500(ident))
    if dashboard is None:
        raise HTTPError(404, NOT_FOUND)
    return json_response(objs.dashboard_json(dashboard, with_widgets=True, can_edit=True))


async def create_dashboard(ctx: Ctx) -> Response:
    """:return: the new (draft) dashboard."""
    require_user(ctx)
    name = ctx.body.get("name")
    if not name:
        raise HTTPError(500, INTERNAL)
    objs = ctx.state.objects
    dashboard = objs.add_dashboard(str(name))
    return json_response(objs.dashboard_json(dashboard))


async def edit_dashboard(ctx: Ctx) -> Response:
    """:return: the edited dashboard. :raises HTTPError: 409 when ``version`` is not the saved one."""
    objs = ctx.state.objects
    dashboard = lookup(objs.dashboards, ctx.args["dashboard_id"], status=500)
    body = ctx.body
    with objs.lock:
        if "version" in body and body["version"] != dashboard.version:
            raise HTTPError(409, CONFLICT)
        if "name" in body and body["name"] != dashboard.name:
            dashboard.name = str(body["name"])
            dashboard.slug = objs.unique_slug(dashboard.name, exclude=dashboard.id)
        apply_fields(dashboard, body, ("layout", "options", "dashboard_filters_enabled", "is_draft", "tags"))
        dashboard.version += 1
        dashboard.updated_at = utcnow()
    return json_response(objs.dashboard_json(dashboard, with_widgets=True))


async def archive_dashboard(ctx: Ctx) -> Response:
    """:return: the archived dashboard."""
    objs = ctx.state.objects
    dashboard = lookup(objs.dashboards, ctx.args["dashboard_id"], status=500)
    with objs.lock:
        dashboard.is_archived = True
        dashboard.version += 1
        dashboard.updated_at = utcnow()
    return json_response(objs.dashboard_json(dashboard, with_widgets=True))


async def create_widget(ctx: Ctx) -> Response:
    """:return: the new widget (a visualization's, or text)."""
    objs = ctx.state.objects
    body = ctx.body
    dashboard = objs.dashboards.get(body.get("dashboard_id"))  # type: ignore[arg-type]
    viz_id = body.get("visualization_id")
    if dashboard is None or (viz_id is not None and viz_id not in objs.visualizations):
        raise HTTPError(404, NOT_FOUND)
    widget = objs.add_widget(
        dashboard.id,
        viz_id,
        text=str(body.get("text") or ""),
        width=int(body.get("width") or 1),
        options=body.get("options") or {},
    )
    return json_response(objs.widget_json(widget))


async def edit_widget(ctx: Ctx) -> Response:
    """:return: the edited widget."""
    objs = ctx.state.objects
    widget = lookup(objs.widgets, ctx.args["widget_id"])
    apply_fields(widget, ctx.body, ("text", "options", "width"))
    widget.updated_at = utcnow()
    return json_response(objs.widget_json(widget))


async def delete_widget(ctx: Ctx) -> Response:
    """:return: null; the widget is gone."""
    widgets = ctx.state.objects.widgets
    widgets.pop(lookup(widgets, ctx.args["widget_id"]).id, None)
    return json_response(None)


async def create_visualization(ctx: Ctx) -> Response:
    """:return: the new visualization of the body's query."""
    objs = ctx.state.objects
    body = ctx.body
    if body.get("query_id") not in objs.queries:
        raise HTTPError(404, NOT_FOUND)
    viz = objs.add_visualization(
        int(body["query_id"]),
        type=str(body.get("type") or "TABLE"),
        name=str(body.get("name") or "Table"),
        description=str(body.get("description") or ""),
        options=body.get("options") or {},
    )
    return json_response(viz.to_json())


async def edit_visualization(ctx: Ctx) -> Response:
    """:return: the edited visualization."""
    viz = lookup(ctx.state.objects.visualizations, ctx.args["viz_id"])
    apply_fields(viz, ctx.body, ("type", "name", "description", "options"))
    viz.updated_at = utcnow()
    return json_response(viz.to_json())


async def delete_visualization(ctx: Ctx) -> Response:
    """:return: null; the visualization is gone."""
    visualizations = ctx.state.objects.visualizations
    visualizations.pop(lookup(visualizations, ctx.args["viz_id"]).id, None)
    return json_response(None)
