"""The Redash toolbelt as operators: back up every query, the privacy scan, clone a dashboard.

Each operator calls the same function as the ``dash-tools`` command line
(:mod:`airflow_provider_dash.tools`) on a :class:`~airflow_provider_dash.hooks.redash.DashHook`,
with a bounded pool of ``concurrency`` requests in flight. The tools are imported when a task runs,
not when a DAG is parsed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dash.exceptions import DashConfigError, DashFindingsError
from airflow_provider_dash.links.redash import DASHBOARD_URL_KEY, RedashDashboardLink
from airflow_provider_dash.pool import DEFAULT_CONCURRENCY, check_concurrency

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_dash.hooks.redash import DashHook

#: XCom key of the scan's report, pushed before the task fails on a match.
SCAN_REPORT_KEY = "scan_report"


class _RedashToolOperator(BaseOperator):
    """What every tool operator takes: the connection and the number of requests in flight.

    :param concurrency: requests in flight at most (1 to 64, default 8).
    :param dash_conn_id: the Airflow connection of the server.
    """

    def __init__(self, *, concurrency: int = DEFAULT_CONCURRENCY, dash_conn_id: str = "dash_default", **kwargs: Any):
        super().__init__(**kwargs)
        self.concurrency = check_concurrency(concurrency)
        self.dash_conn_id = dash_conn_id

    def _hook(self, conn_id: str | None = None) -> DashHook:
        # The hook pulls in requests and tenacity: imported when a task runs, not when a DAG is parsed.
        from airflow_provider_dash.hooks.redash import DashHook

        return DashHook(conn_id or self.dash_conn_id)


class ExportQueriesOperator(_RedashToolOperator):
    """Back up every saved query: one ``query_<id>.sql`` file each (SQL under a header of its metadata) and a manifest.

    Incremental: only the queries changed since the last export at ``path`` are rewritten; the
    files of queries gone from the server are removed (or kept with ``keep_deleted``). Every file,
    then the manifest, is written atomically. ``dash-tools import-queries`` restores such an export.
    Fails (after writing everything it could) when some query could not be exported.

    :param path: a local folder or an ``ObjectStoragePath`` URI (``s3://bucket/redash/``; templated).
    :param archived: export the archived queries too.
    :param keep_deleted: keep the files of queries gone from the server.
    :param storage_conn_id: the object store's Airflow connection (URIs only).
    :return: ``{"location", "queries", "written", "unchanged", "removed", "kept_deleted", "failures"}``.
    :raises DashFindingsError: naming each query that could not be exported.
    """

    template_fields: Sequence[str] = ("path",)

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        archived: bool = False,
        keep_deleted: bool = False,
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not path or not isinstance(path, (str, os.PathLike)):
            raise DashConfigError(f"path must be a local folder or a URI, got {path!r}")
        self.path = path
        self.archived = archived
        self.keep_deleted = keep_deleted
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Export the queries; return the summary."""
        from airflow_provider_dash.pool import BoundedPool
        from airflow_provider_dash.tools.redash_export import export_queries

        with self._hook() as hook, BoundedPool(self.concurrency) as pool:
            summary = export_queries(
                hook,
                os.fspath(self.path),
                archived=self.archived,
                keep_deleted=self.keep_deleted,
                storage_conn_id=self.storage_conn_id,
                pool=pool,
            )
        self.log.info("%s", summary.summary())
        if summary.failures:
            lines = tuple(f"query {f.query_id}: {f.error}" for f in summary.failures)
            raise DashFindingsError(
                f"{len(lines)} of {summary.queries} queries could not be exported to {summary.location}:\n"
                + "\n".join(lines),
                findings=lines,
            )
        return summary.model_dump(mode="json")


class ScanOperator(_RedashToolOperator):
    """The privacy scan: fail when any term appears anywhere on the server (so a scheduled DAG alerts).

    Searches, case-insensitively, every query's SQL, name, description, tags and saved parameter
    values and its latest result (streamed), and every dashboard's name, slug, tags, text widgets and
    static widget parameters. The report is pushed to XCom ``scan_report`` before the task fails.

    :param terms: the texts to find (templated; a list, or one text).
    :param archived: search the archived queries too (default True: their data is still there).
    :param results: search the latest results.
    :param dashboards: search the dashboards.
    :return: the report (``{"terms", "matches", "failures", "queries", "results", "dashboards"}``) when clean.
    :raises DashFindingsError: listing every match (kind, id, place, URL) and every place not searched.
    """

    template_fields: Sequence[str] = ("terms",)

    def __init__(
        self,
        *,
        terms: Sequence[str] | str,
        archived: bool = True,
        results: bool = True,
        dashboards: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not terms or (not isinstance(terms, str) and not all(isinstance(t, str) and t.strip() for t in terms)):
            raise DashConfigError(f"terms must be one or more non-empty texts, got {terms!r}")
        self.terms = terms
        self.archived = archived
        self.results = results
        self.dashboards = dashboards

    def execute(self, context: Context) -> dict[str, Any]:
        """Scan; push the report; fail on any match or any place that could not be searched."""
        from airflow_provider_dash.pool import BoundedPool
        from airflow_provider_dash.tools.redash_scan import scan

        terms = [self.terms] if isinstance(self.terms, str) else list(self.terms)
        with self._hook() as hook, BoundedPool(self.concurrency) as pool:
            report = scan(
                hook, terms, archived=self.archived, results=self.results, dashboards=self.dashboards, pool=pool
            )
        found = report.model_dump(mode="json")
        context["ti"].xcom_push(key=SCAN_REPORT_KEY, value=found)
        self.log.info("%s", report.summary())
        if report.clean:
            return found
        lines = tuple(f"{m.kind} {m.id} {m.where}: {m.term!r} ({m.url})" for m in report.matches) + tuple(
            f"{f.kind} {f.id} {f.where} could not be searched: {f.error}" for f in report.failures
        )
        raise DashFindingsError(f"Privacy scan: {report.summary()}:\n" + "\n".join(lines), findings=lines)


class CloneDashboardOperator(_RedashToolOperator):
    """Copy a dashboard with copies of its queries, their visualizations and its widgets (all or nothing).

    On the same server the queries are forked; with ``to_conn_id`` they are created on that server,
    data sources matched by name (a missing one fails the task before anything is created). If a
    step fails, everything the task created is archived. Copies get no refresh schedule.

    :param dashboard: the dashboard's id or slug (templated).
    :param prefix: put before each copy's name (templated; default ``"Copy of "``).
    :param name: the new dashboard's name (templated; default: prefix + name).
    :param to_conn_id: the Airflow connection of another server to clone onto.
    :param dry_run: only plan (and log the plan); create nothing.
    :return: ``{"plan", "result"}``: the plan, and the new dashboard's id, slug, URL and the id maps.
    """

    template_fields: Sequence[str] = ("dashboard", "prefix", "name")
    operator_extra_links = (RedashDashboardLink(),)

    def __init__(
        self,
        *,
        dashboard: int | str,
        prefix: str = "Copy of ",
        name: str | None = None,
        to_conn_id: str | None = None,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(dashboard, bool) or not isinstance(dashboard, (int, str)) or not str(dashboard).strip():
            raise DashConfigError(f"dashboard must be an id or a slug, got {dashboard!r}")
        self.dashboard = dashboard
        self.prefix = prefix
        self.name = name
        self.to_conn_id = to_conn_id
        self.only_plan = dry_run  # BaseOperator.dry_run is a method

    def execute(self, context: Context) -> dict[str, Any]:
        """Plan the clone; unless a dry run, make it and push the new dashboard's URL."""
        from airflow_provider_dash.pool import BoundedPool
        from airflow_provider_dash.tools.redash_clone import plan_clone, run_clone

        source = self._hook()
        target = self._hook(self.to_conn_id) if self.to_conn_id else None
        with source, target or contextlib.nullcontext(), BoundedPool(self.concurrency) as pool:
            plan = plan_clone(source, self.dashboard, target=target, prefix=self.prefix, name=self.name, pool=pool)
            self.log.info("%s", "\n".join(plan.describe()))
            if self.only_plan:
                return {"plan": plan.model_dump(mode="json"), "result": None}
            result = run_clone(source, plan, target=target)
        context["ti"].xcom_push(key=DASHBOARD_URL_KEY, value=result.url)
        self.log.info("Cloned dashboard %s as %s", plan.dashboard_id, result.url)
        return {"plan": plan.model_dump(mode="json"), "result": result.model_dump(mode="json")}
