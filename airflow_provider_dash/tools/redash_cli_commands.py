"""The ``dash-tools`` subcommands: each runs one tool and prints its result; the return value is the exit status.

0: done, nothing found (or nothing failed); 1: findings (scan matches, SQL that does not parse) or
failures (a query that could not be exported). Usage errors (2) are the parser's, in
:mod:`.redash_cli`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from airflow_provider_dash.tools.redash_cli_output import Output, table

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.pool import BoundedPool

OK, FOUND = 0, 1


def export_command(args: argparse.Namespace, client: RedashClient, pool: BoundedPool, output: Output) -> int:
    """``export-queries``: every query to a folder; exit 1 when some query could not be written."""
    from airflow_provider_dash.tools.redash_export import export_queries

    with output.progress() as progress:
        summary = export_queries(
            client,
            args.location,
            archived=args.archived,
            keep_deleted=args.keep_deleted,
            storage_conn_id=args.storage_conn_id,
            pool=pool,
            progress=progress,
        )
    if output.is_json:
        output.json(summary.model_dump(mode="json"))
    else:
        rows = [[qid, "written"] for qid in summary.written]
        rows += [[qid, "removed (gone from the server)"] for qid in summary.removed]
        rows += [[qid, "kept (gone from the server)"] for qid in summary.kept_deleted]
        rows += [[f.query_id, f"FAILED: {f.error}"] for f in summary.failures]
        if rows:
            output.text(table(["query", "what happened"], sorted(rows, key=lambda r: int(r[0]))), "")
        output.text(summary.summary())
    return FOUND if summary.failures else OK


def import_command(args: argparse.Namespace, client: RedashClient, pool: BoundedPool, output: Output) -> int:
    """``import-queries``: an export into this server (all or nothing)."""
    from airflow_provider_dash.tools.redash_import import import_queries

    with output.progress() as progress:
        summary = import_queries(
            client,
            args.location,
            schedules=not args.no_schedules,
            include_deleted=args.include_deleted,
            storage_conn_id=args.storage_conn_id,
            pool=pool,
            progress=progress,
        )
    if output.is_json:
        output.json(summary.model_dump(mode="json"))
    else:
        output.text(table(["exported query", "new query"], list(summary.created.items())), "", summary.summary())
    return OK


def tables_command(args: argparse.Namespace, client: RedashClient, pool: BoundedPool, output: Output) -> int:
    """``find-tables``: table -> queries and query -> tables; exit 1 when some SQL does not parse."""
    from airflow_provider_dash.tools.redash_tables import find_tables

    with output.progress() as progress:
        report = find_tables(
            client, query_ids=args.query_id or None, archived=args.archived, pool=pool, progress=progress
        )
    if output.is_json:
        output.json(report.to_json())
    else:
        rows: list[list[object]] = [[name, ", ".join(str(q) for q in ids)] for name, ids in report.tables.items()]
        output.text(table(["table", "queries"], rows), "")
        rows = [
            [q.query_id, q.name, ", ".join(q.tables) or "-", ", ".join(q.parameter_tables)]
            for q in report.queries
            if q.error is None
        ]
        output.text(table(["query", "name", "tables", "tables from parameters"], rows))
        if report.unparsed:
            rows = [[q.query_id, q.name, _where(q.error_line, q.error_column), q.error] for q in report.unparsed]
            output.text("", "SQL that does not parse:", table(["query", "name", "at", "error"], rows))
        output.text("", f"{len(report.queries)} queries, {len(report.tables)} tables, {len(report.unparsed)} unparsed")
    return FOUND if report.unparsed else OK


def scan_command(args: argparse.Namespace, client: RedashClient, pool: BoundedPool, output: Output) -> int:
    """``scan``: the privacy search; exit 1 when a term is found or a place could not be searched."""
    from airflow_provider_dash.tools.redash_scan import scan

    with output.progress() as progress:
        report = scan(
            client,
            args.terms,
            archived=not args.no_archived,
            results=not args.no_results,
            dashboards=not args.no_dashboards,
            pool=pool,
            progress=progress,
        )
    if output.is_json:
        output.json(report.model_dump(mode="json"))
    else:
        if report.matches:
            rows = [[m.kind, m.id, m.where, m.term, "" if m.rows is None else m.rows, m.url] for m in report.matches]
            output.text(table(["kind", "id", "where", "term", "rows", "url"], rows), "")
        if report.failures:
            rows = [[f.kind, f.id, f.where, f.error] for f in report.failures]
            output.text("Could not be searched:", table(["kind", "id", "where", "error"], rows), "")
        output.text(report.summary())
    return OK if report.clean else FOUND


def clone_command(args: argparse.Namespace, client: RedashClient, pool: BoundedPool, output: Output) -> int:
    """``clone-dashboard``: plan, then (unless ``--dry-run``) make the copies; all or nothing."""
    from airflow_provider_dash.tools.redash_clone import plan_clone, run_clone

    target: RedashClient | None = args.target_client
    plan = plan_clone(client, args.dashboard, target=target, prefix=args.prefix, name=args.name, pool=pool)
    if args.dry_run:
        if output.is_json:
            output.json({"dry_run": True, "plan": plan.model_dump(mode="json")})
        else:
            output.text(*plan.describe(), "", "Dry run: nothing was created.")
        return OK
    result = run_clone(client, plan, target=target)
    if output.is_json:
        output.json({"dry_run": False, "plan": plan.model_dump(mode="json"), "result": result.model_dump(mode="json")})
    else:
        rows = [[old, new] for old, new in result.queries.items()]
        output.text(
            table(["source query", "copy"], rows),
            "",
            f"Cloned dashboard {plan.dashboard_id} as dashboard {result.dashboard_id} {plan.new_name!r}: {result.url}",
        )
    return OK


def _where(line: int | None, column: int | None) -> str:
    if line is None:
        return ""
    return f"line {line}" + (f", column {column}" if column is not None else "")
