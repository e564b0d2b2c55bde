"""The Redash client's whole objects, for the tools: every saved query, dashboards as laid out, data
sources, forks, visualizations and widgets (part of
:class:`~airflow_provider_dash.hooks.redash_client.RedashClient`).

Lists are read through an optional :class:`~airflow_provider_dash.pool.BoundedPool`: the pages after
the first are fetched concurrently, in order. Every call retries like every other call of the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashResponseError
from airflow_provider_dash.hooks import _redash_routes as _routes
from airflow_provider_dash.hooks._redash_transport import MAX_PAGE_SIZE, RedashTransport
from airflow_provider_dash.models.redash_tools import (
    DashboardLayout,
    DataSource,
    SavedQuery,
    Visualization,
    WidgetLayout,
    WidgetToCreate,
    parse,
)

if TYPE_CHECKING:
    from airflow_provider_dash.pool import BoundedPool


class RedashObjects(RedashTransport):
    """Whole saved objects and the calls that copy them (part of ``RedashClient``)."""

    def iter_saved_queries(
        self, *, archived: bool = False, pool: BoundedPool | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[SavedQuery]:
        """Every saved query (all pages; SQL, options, tags, schedule, ``updated_at``; no visualizations).

        A query met twice (the list shifted while it was read) is yielded once.

        :param archived: list the archived queries instead of the others.
        :param pool: fetch the pages after the first concurrently through it.
        :return: the queries in the server's order, read lazily.
        :raises DashError: when a page cannot be fetched or holds something that is not a query.
        """
        seen: set[int] = set()
        items = self._pages_concurrently(
            lambda page, size: _routes.list_queries_request(page, size, archived=archived), page_size, pool
        )
        for item in items:
            query = parse(SavedQuery, item, _what(item, "query"))
            if query.id not in seen:
                seen.add(query.id)
                yield query

    def get_saved_query(self, query_id: int) -> SavedQuery:
        """One saved query with its visualizations.

        :raises DashNotFoundError: when the query does not exist.
        """
        return parse(SavedQuery, self._json(_routes.get_query_request(query_id)), f"query {query_id}")

    def create_saved_query(self, body: dict[str, Any]) -> SavedQuery:
        """Create a saved query (Redash makes it a draft with a default TABLE visualization). Not retried once sent.

        :param body: ``name``, ``query``, ``data_source_id`` and optionally ``description``,
            ``options``, ``tags``.
        :return: the new query, with its visualizations.
        :raises DashApiError: when the server refuses it (Redash answers 500 for an unknown data source).
        """
        created = parse(SavedQuery, self._json(_routes.create_query_request(body)), f"new query {body.get('name')!r}")
        self.log.info("Created query %s %r", created.id, created.name)
        return created

    def edit_saved_query(self, query_id: int, **changes: Any) -> SavedQuery:
        """Change fields of a saved query (``name``, ``options``, ``schedule``, ``is_draft``...).

        :return: the query as saved.
        """
        self._queries.pop(int(query_id), None)
        return parse(SavedQuery, self._json(_routes.edit_query_request(query_id, changes)), f"query {query_id}")

    def iter_dashboard_layouts(
        self, *, pool: BoundedPool | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[DashboardLayout]:
        """Every dashboard of the list (drafts included, archived not), without widgets (the list has none).

        :return: the dashboards in the server's order, read lazily, each once.
        """
        seen: set[int] = set()
        items = self._pages_concurrently(_routes.list_dashboards_request, page_size, pool)
        for item in items:
            dashboard = parse(DashboardLayout, item, _what(item, "dashboard"))
            if dashboard.id not in seen:
                seen.add(dashboard.id)
                yield dashboard

    def get_dashboard_layout(self, dashboard: int | str) -> DashboardLayout:
        """One dashboard with its widgets as laid out, by numeric id (int or digits) or by slug.

        A slug is looked up with ``?legacy``: Redash 10+ takes only ids on the plain route, and older
        servers ignore the flag and take the slug.

        :raises DashNotFoundError: when it does not exist.
        """
        return parse(DashboardLayout, self._json(_routes.get_dashboard_request(dashboard)), f"dashboard {dashboard!r}")

    def list_data_source_objects(self) -> list[DataSource]:
        """Every data source the key may see (``id``, ``name``, ``type``), in id order.

        :raises DashResponseError: when the answer is not a list of data sources.
        """
        body = self._json(_routes.list_data_sources_request())
        if not isinstance(body, list):
            raise DashResponseError(f"/api/data_sources answered {type(body).__name__}, not a list")
        sources = [parse(DataSource, item, _what(item, "data source")) for item in body]
        return sorted(sources, key=lambda source: source.id)

    def fork_query(self, query_id: int) -> SavedQuery:
        """Fork a saved query: Redash makes a draft copy named ``Copy of (#<id>) <name>`` with copies of
        its visualizations (new ids, same order). Not retried once sent (a lost answer may have forked).

        :return: the new query, with its visualizations.
        :raises DashNotFoundError: when the query does not exist.
        """
        fork = parse(SavedQuery, self._json(_routes.fork_query_request(query_id)), f"fork of query {query_id}")
        self.log.info("Forked query %s as query %s", query_id, fork.id)
        return fork

    def create_visualization(
        self, query_id: int, *, type: str, name: str, description: str | None = "", options: dict[str, Any]
    ) -> Visualization:
        """Add a visualization to a saved query. Not retried once sent.

        :return: the new visualization.
        """
        body = {"query_id": query_id, "type": type, "name": name, "description": description or "", "options": options}
        created = parse(Visualization, self._json(_routes.create_visualization_request(body)), "new visualization")
        self.log.info("Created visualization %s %r of query %s", created.id, name, query_id)
        return created

    def edit_visualization(self, visualization_id: int, **changes: Any) -> Visualization:
        """Change fields of a visualization (``name``, ``description``, ``options``, ``type``).

        :return: the visualization as saved.
        """
        return parse(
            Visualization,
            self._json(_routes.edit_visualization_request(visualization_id, changes)),
            f"visualization {visualization_id}",
        )

    def create_widget(self, widget: WidgetToCreate) -> WidgetLayout:
        """Add a widget to a dashboard (text when ``visualization_id`` is None). Not retried once sent.

        :return: the new widget.
        """
        body = widget.model_dump()
        created = parse(WidgetLayout, self._json(_routes.create_widget_request(body)), "new widget")
        self.log.info("Created widget %s on dashboard %s", created.id, widget.dashboard_id)
        return created


def _what(item: Any, noun: str) -> str:
    """ "query 7" when the item has an id, else "query" (for error texts)."""
    ident = item.get("id") if isinstance(item, dict) else None
    return f"{noun} {ident}" if ident is not None else noun
