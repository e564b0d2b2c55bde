"""``dash-tools``: the Redash toolbelt as a command line: export and import queries, find tables, scan, clone.

It connects with an Airflow connection (``--conn-id``, default ``dash_default``, read the way
Airflow reads connections: ``AIRFLOW_CONN_<ID>``, secrets backends, the metadata database) or with
``--url`` and the API key in the ``DASH_API_KEY`` environment variable (never an argument: it would
show in ``ps``). ``--help`` and a ``--url`` run import no Airflow at all (importing it costs seconds).

Exit status: 0 done; 1 findings (scan matches, SQL that does not parse) or failures (the server
refused, a query could not be exported); 2 usage error (a bad option, no key, an unknown connection).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient

PROG = "dash-tools"
KEY_ENV = "DASH_API_KEY"
TO_KEY_ENV = "DASH_TO_API_KEY"
USAGE = 2

_EPILOG = (
    f"Connect with --conn-id (an Airflow connection, default dash_default) or with --url and the API key in "
    f"${KEY_ENV}. Exit status: 0 done, 1 findings or failures, 2 usage error."
)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("connection")
    choice = where.add_mutually_exclusive_group()
    choice.add_argument("--conn-id", help="Airflow connection id (default: dash_default); imports Airflow")
    choice.add_argument("--url", help=f"the server's base URL; the API key is read from ${KEY_ENV}")
    out = common.add_argument_group("output")
    out.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    out.add_argument("--concurrency", type=int, default=8, help="requests in flight at most (default 8)")
    out.add_argument("-v", "--verbose", action="store_true", help="log every step on standard error")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dash-tools`` and its subcommands."""
    from airflow_provider_dash.tools import redash_cli_commands as commands

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The Redash toolbelt: back up queries, find tables, privacy scan, clone dashboards.",
        epilog=_EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    common = _common()

    def add(name: str, run: Callable[..., int], summary: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=[common], help=summary, description=summary, epilog=_EPILOG)
        command.set_defaults(run=run, command_parser=command)
        return command

    export = add("export-queries", commands.export_command, "Export every query's SQL, with its metadata, to files.")
    export.add_argument("location", help="a folder, or an object-store URI (s3://..., needs Airflow and its provider)")
    export.add_argument("--archived", action="store_true", help="export the archived queries too")
    export.add_argument("--keep-deleted", action="store_true", help="keep the files of queries gone from the server")
    export.add_argument("--storage-conn-id", help="Airflow connection of the object store (URIs only)")

    restore = add("import-queries", commands.import_command, "Create the queries of an export on this server.")
    restore.add_argument("location", help="the folder (or URI) export-queries wrote")
    restore.add_argument("--no-schedules", action="store_true", help="create the queries without refresh schedules")
    restore.add_argument("--include-deleted", action="store_true", help="also import files kept with --keep-deleted")
    restore.add_argument("--storage-conn-id", help="Airflow connection of the object store (URIs only)")

    tables = add("find-tables", commands.tables_command, "List the tables each query reads and writes (sqlglot).")
    tables.add_argument("--query-id", type=int, action="append", help="only this query (repeatable)")
    tables.add_argument("--archived", action="store_true", help="read the archived queries too")

    scan = add("scan", commands.scan_command, "Privacy scan: where do these terms (e-mail addresses...) appear?")
    scan.add_argument("terms", nargs="*", metavar="term", help="texts to find, case-insensitive")
    scan.add_argument("--terms-from", metavar="FILE", help="read terms from FILE, one a line ('-': standard input)")
    scan.add_argument("--no-archived", action="store_true", help="skip the archived queries")
    scan.add_argument("--no-results", action="store_true", help="skip the latest results")
    scan.add_argument("--no-dashboards", action="store_true", help="skip the dashboards")

    clone = add("clone-dashboard", commands.clone_command, "Copy a dashboard with copies of its queries.")
    clone.add_argument("dashboard", help="the dashboard's id or slug")
    clone.add_argument("--prefix", default="Copy of ", help="put before each copy's name (default 'Copy of ')")
    clone.add_argument("--name", help="the new dashboard's name (default: prefix + name)")
    target = clone.add_mutually_exclusive_group()
    target.add_argument("--to-conn-id", help="clone onto the server of this Airflow connection")
    target.add_argument("--to-url", help=f"clone onto this server; its API key is read from ${TO_KEY_ENV}")
    clone.add_argument("--dry-run", action="store_true", help="print the plan, create nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dash-tools``. :return: the exit status (0, 1 or 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    from airflow_provider_dash.exceptions import DashError
    from airflow_provider_dash.pool import BoundedPool
    from airflow_provider_dash.tools.redash_cli_output import Output

    output = Output(args.format)
    try:
        _check_arguments(args)
        client = _client(args.conn_id, args.url, KEY_ENV)
        args.target_client = None
        if getattr(args, "to_conn_id", None) or getattr(args, "to_url", None):
            args.target_client = _client(args.to_conn_id, args.to_url, TO_KEY_ENV)
    except _UsageError as error:
        args.command_parser.error(str(error))  # exits 2
    try:
        with client, args.target_client or contextlib.nullcontext(), BoundedPool(args.concurrency) as pool:
            status: int = args.run(args, client, pool, output)
            return status
    except DashError as error:
        output.note(f"{PROG} {args.command}: error: {error}")
        for note in getattr(error, "__notes__", ()):
            output.note(f"  {note}")
        return 1
    except OSError as error:  # the export folder or a terms file: not writable, full, gone
        output.note(f"{PROG} {args.command}: error: {error}")
        return 1
    except KeyboardInterrupt:
        output.note(f"{PROG} {args.command}: interrupted")
        return 130


class _UsageError(Exception):
    """Bad input found before anything ran (exit status 2)."""


def _check_arguments(args: argparse.Namespace) -> None:
    from airflow_provider_dash.exceptions import DashConfigError
    from airflow_provider_dash.pool import check_concurrency

    try:
        check_concurrency(args.concurrency)
    except DashConfigError as error:
        raise _UsageError(str(error)) from None
    if args.command == "scan":
        terms = list(args.terms)
        if args.terms_from:
            terms += _read_terms(args.terms_from)
        if not terms:
            raise _UsageError("give at least one term (as arguments or with --terms-from)")
        if any(not term.strip() for term in terms):
            raise _UsageError("a term is empty")
        args.terms = terms


def _read_terms(source: str) -> list[str]:
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as stream:
                text = stream.read()
    except OSError as error:
        raise _UsageError(f"cannot read --terms-from {source}: {error.strerror}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _client(conn_id: str | None, url: str | None, key_env: str) -> RedashClient:
    """The client of ``--url`` (key from ``key_env``) or of an Airflow connection (read now, to fail early)."""
    from airflow_provider_dash.exceptions import DashConfigError

    if url is not None:
        from airflow_provider_dash.hooks.redash_client import RedashClient

        key = os.environ.get(key_env, "")
        if not key.strip():
            raise _UsageError(f"{url} needs an API key in the environment variable {key_env} (never an argument)")
        try:
            return RedashClient.from_url(url, key)
        except DashConfigError as error:
            raise _UsageError(str(error)) from None
    # Only an Airflow connection imports Airflow.
    from airflow_provider_dash.hooks.redash import DashHook

    hook = DashHook(conn_id or DashHook.default_conn_name)
    try:
        hook.config  # noqa: B018 - read the connection now: an unknown id is a usage error
    except DashConfigError as error:
        raise _UsageError(str(error)) from None
    except Exception as error:  # Airflow's "connection not defined" has no public base class to catch
        raise _UsageError(f"cannot read the Airflow connection {hook.dash_conn_id!r}: {_first_line(error)}") from None
    return hook


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
