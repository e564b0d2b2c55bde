"""The lineage side of the Redash tasks: what each run recorded, its OpenLineage facets, its asset events.

:class:`RedashLineageMixin` is mixed into every Redash task that runs queries. While the task
runs it records each query run (query, job, result); afterwards the OpenLineage listener calls
``get_openlineage_facets_on_complete`` (or ``_on_failure``), which builds the facets from that
record through :mod:`.redash`. When the user lists the query's (or dashboard's) ``redash://``
asset in ``outlets``, the task puts the result id and row count in that asset event's ``extra``.

The operator modules import this one on every DAG parse: it imports the standard library only,
and the OpenLineage provider (an optional extra) only inside the methods the listener calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashError

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_dash.hooks.redash import DashHook
    from airflow_provider_dash.models import QueryResult


class RedashLineageMixin:
    """Records a Redash task's query runs; gives OpenLineage its facets and the outlets their extras.

    The task class provides ``_get_hook()``, ``log`` and ``outlets`` (every Airflow operator has
    the last two).
    """

    log: Any
    outlets: Any

    if TYPE_CHECKING:

        def _get_hook(self) -> DashHook: ...

    # ------------------------------------------------------------------ what the task records

    def _lineage(self) -> dict[str, Any]:
        state: dict[str, Any] | None = self.__dict__.get("_dash_lineage")
        if state is None:
            state = self.__dict__["_dash_lineage"] = {"runs": [], "results": {}, "dashboard_id": None}
        return state

    def _lineage_keep_result(self, result: QueryResult) -> None:
        """Keep a result the task fetched anyway, so the lineage does not fetch it again."""
        self._lineage()["results"][result.id] = result

    def _lineage_result(self, query_id: int, result_id: int) -> QueryResult:
        results = self._lineage()["results"]
        if result_id not in results:
            results[result_id] = self._get_hook().get_query_result(result_id, query_id)
        return results[result_id]

    def _lineage_record(self, context: Context, query_id: int, job_id: str | None, result_id: int) -> None:
        """Record one finished query run, and describe it in the event of its asset if it is an outlet."""
        self._lineage()["runs"].append((int(query_id), job_id, int(result_id)))

        def extra() -> dict[str, Any]:
            described: dict[str, Any] = {"query_id": int(query_id), "query_result_id": int(result_id)}
            try:
                result = self._lineage_result(query_id, result_id)
            except DashError as error:
                # The run succeeded; a failed read of its result must not fail the task (nor rerun it).
                self.log.warning(
                    "Outlet of query %s: could not read result %s for its row count: %s", query_id, result_id, error
                )
                return described
            return {**described, "row_count": result.row_count, "retrieved_at": result.retrieved_at}

        self._lineage_outlet_extra(context, "queries", int(query_id), extra)

    def _lineage_record_refresh(self, context: Context, dashboard_id: int, runs: list[Mapping[str, Any]]) -> None:
        """Record a dashboard refresh's finished runs, and describe it in its outlets' events."""
        self._lineage()["dashboard_id"] = dashboard_id
        done = [r for r in runs if r["query_result_id"] is not None]
        for run in done:
            self._lineage_record(context, run["query_id"], run.get("job_id"), run["query_result_id"])
        results = {str(r["query_id"]): r["query_result_id"] for r in done}
        self._lineage_outlet_extra(
            context, "dashboards", dashboard_id, lambda: {"dashboard_id": dashboard_id, "query_result_ids": results}
        )

    def _lineage_outlet_extra(
        self, context: Context, kind: str, object_id: int, extra: Callable[[], Mapping[str, Any]]
    ) -> None:
        """Put ``extra()`` into the asset event of every outlet naming this query or dashboard."""
        outlets = [o for o in (getattr(self, "outlets", None) or []) if str(getattr(o, "uri", "")).startswith("redash")]
        if not outlets:
            return
        from airflow_provider_dash.lineage.redash_assets import object_ref, parse_uri

        here = object_ref(self._get_hook().config.base_url, kind, object_id)
        for asset in outlets:
            try:
                ref = parse_uri(asset.uri)
            except ValueError:
                continue
            if (ref.kind, ref.id) != (kind, object_id):
                continue
            if (ref.netloc, ref.org) != (here.netloc, here.org):
                self.log.warning(
                    "Outlet %s names %s %s on another server than this task's connection (%s): its event gets "
                    "no Redash extra. Build it with redash_%s_asset(%s, <conn id>)",
                    asset.uri,
                    kind[:-1] if kind == "dashboards" else "query",
                    object_id,
                    here.uri,
                    "dashboard" if kind == "dashboards" else "query",
                    object_id,
                )
                continue
            context["outlet_events"][asset].extra.update(extra())

    # ------------------------------------------------------------------ OpenLineage

    def _lineage_query_ids(self) -> list[int]:
        """The queries this task runs, known before any result (for the lineage of a failure)."""
        from airflow_provider_dash.arguments import as_id

        try:
            return [as_id(getattr(self, "query_id", None))]
        except Exception:
            return []

    def _openlineage(self, failed: bool) -> OperatorLineage:
        """Build the facets from what the task recorded (tasks with another shape override this)."""
        from airflow_provider_dash.lineage.redash import QueryRunFacts, query_lineage

        state = self._lineage()
        runs = [QueryRunFacts(q, j, r) for q, j, r in state["runs"]]
        if not runs:
            runs = [QueryRunFacts(q) for q in self._lineage_query_ids()]
        return query_lineage(
            self._get_hook(), runs, results=state["results"], dashboard_id=state["dashboard_id"], outputs=True
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage facets of a finished run: the tables read, the results made, the Redash job.

        Called by the OpenLineage listener (``apache-airflow-providers-openlineage``, the
        ``openlineage`` extra) after the task succeeded.
        """
        return self._openlineage(failed=False)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage facets of a failed run: the tables the query reads, and the results it made, if any."""
        return self._openlineage(failed=True)
