"""Filling the Redash emulator: the test-data methods (tables, queries, dashboards, seeded results)
and loading the recorded server's demo objects (see :mod:`.demo`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import demo

if TYPE_CHECKING:
    from .redash_state import RedashState


class RedashTestData:
    """The methods a test calls to put data in a Redash emulator (mixed into :class:`~.server.RedashEmulator`)."""

    state: RedashState

    def add_table(
        self, name: str, columns: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Any]] | str = ()
    ) -> None:
        """Create table ``name`` and fill it.

        :param columns: column names, or (name, SQLite type) pairs.
        :param rows: an iterable of row tuples (inserted in batches), or a SELECT statement whose
            rows are inserted (e.g. a recursive CTE making a million rows in SQLite itself).
        """
        cols = ", ".join(f'"{c}"' if isinstance(c, str) else f'"{c[0]}" {c[1]}' for c in columns)
        self.state.db.write(f'CREATE TABLE "{name}" ({cols})')
        if isinstance(rows, str):
            self.state.db.write(f'INSERT INTO "{name}" {rows}')
            return
        marks = ", ".join("?" for _ in columns)
        self.state.db.write(f'INSERT INTO "{name}" VALUES ({marks})', rows)

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL on the emulator's database directly. :return: the rows."""
        conn = self.state.db.connect()
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def add_query(
        self,
        name: str,
        sql: str,
        parameters: list[dict[str, Any]] | None = None,
        *,
        delay: float | None = None,
        data_source_id: int = 1,
        description: str | None = None,
        tags: list[str] | None = None,
        is_draft: bool = False,
        is_archived: bool = False,
    ) -> int:
        """Save a query (published unless ``is_draft``). :return: its id."""
        options: dict[str, Any] = {"parameters": list(parameters)} if parameters else {}
        query = self.state.objects.add_query(
            name,
            sql,
            data_source_id,
            description=description,
            options=options,
            tags=list(tags or []),
            is_draft=is_draft,
            is_archived=is_archived,
            delay=delay,
        )
        return query.id

    def add_dashboard(
        self,
        name: str,
        widgets: Iterable[int | str | dict[str, Any]] = (),
        *,
        is_draft: bool = False,
        tags: list[str] | None = None,
        version: int = 1,
    ) -> int:
        """Save a dashboard with widgets. :return: its id.

        :param widgets: each a query id (its first visualization), a text (a text widget), or a
            dict with ``query_id`` or ``visualization_id``, optional ``parameterMappings`` and
            ``text``. Widgets are laid out two per row.
        """
        objs = self.state.objects
        with objs.lock:
            dashboard = objs.add_dashboard(name, is_draft=is_draft, tags=list(tags or []), version=version)
            for index, spec in enumerate(widgets):
                col, row = (index % 2) * 3, (index // 2) * 8
                if isinstance(spec, str):
                    objs.add_widget(dashboard.id, None, text=spec, options=demo.widget_options(col, row, 3, None))
                    continue
                item: dict[str, Any] = {"query_id": spec} if isinstance(spec, int) else dict(spec)
                viz_id = item.get("visualization_id")
                if viz_id is None and item.get("query_id") is not None:
                    viz_id = min(v.id for v in objs.visualizations.values() if v.query_id == item["query_id"])
                mappings = item.get("parameterMappings", {}) if viz_id is not None else None
                objs.add_widget(
                    dashboard.id,
                    viz_id,
                    text=str(item.get("text", "")),
                    options=demo.widget_options(col, row, 8, mappings),
                )
            return dashboard.id

    def seed_result(
        self, query_id: int | None = None, sql: str | None = None, *, age: float = 0.0, data_source_id: int = 1
    ) -> int:
        """Compute a result now, synchronously, as if it ran ``age`` emulated seconds ago (it
        becomes the latest result of every query with the same text). :return: its id."""
        if query_id is not None:
            query = self.state.objects.queries[query_id]
            sql, data_source_id = query.query, query.data_source_id
        assert sql is not None, "give query_id or sql"
        started = time.perf_counter()
        table, columns, count = self.state.results.run_sql(sql)
        meta = self.state.results.store(
            sql, data_source_id, table, columns, count, time.perf_counter() - started, age=age
        )
        self.state.objects.note_result(meta)
        return meta.id

    def job(self, job_id: str) -> dict[str, Any] | None:
        """:return: the job as ``GET /api/jobs/<id>`` shows it, or None if unknown."""
        found = self.state.jobs.get(job_id)
        return found.to_json() if found else None

    def load_demo(self) -> None:
        """Load the recorded server's demo objects and the ``orders`` table."""
        objs = self.state.objects
        objs.add_data_source(
            "sample-pg",
            "pg",
            {"host": "127.0.0.1", "port": 5433, "user": "sample_ro", "password": "secret", "dbname": "sampledb"},
        )
        self.add_table(
            "orders",
            [
                ("id", "INTEGER PRIMARY KEY"),
                ("customer", "TEXT"),
                ("region", "TEXT"),
                ("amount", "REAL"),
                ("quantity", "INTEGER"),
                ("created_at", "TEXT"),
                ("order_date", "TEXT"),
            ],
            demo.order_rows(300),
        )
        for spec in demo.QUERIES:
            fields = dict(spec)
            objs.add_query(
                fields.pop("name"),
                fields.pop("query"),
                1,
                description=fields.pop("description"),
                options=fields.pop("options"),
                is_draft=False,
                **fields,
            )
        objs.add_visualization(
            5,
            type="CHART",
            name="Total by region (bar)",
            options={
                "globalSeriesType": "column",
                "columnMapping": {"region": "x", "total": "y"},
                "legend": {"enabled": True},
            },
        )
        sales = objs.add_dashboard("Sales Overview", is_draft=False, version=2)
        for viz_id, col, row, size_y, extra in demo.SALES_WIDGETS:
            if viz_id is None:
                objs.add_widget(sales.id, None, text=str(extra), options=demo.widget_options(col, row, size_y, None))
            else:
                objs.add_widget(sales.id, viz_id, options=demo.widget_options(col, row, size_y, dict(extra)))
        objs.add_dashboard("Throwaway dashboard", is_archived=True, version=2)
        objs.add_dashboard("Ops dashboard")
        objs.add_dashboard("Finance dashboard")
        # Query 1 has a cached result from an hour (emulated) ago, like the recorded server had.
        result_id = self.seed_result(1, age=3600)
        objs.queries[8].latest_query_data_id = result_id
