"""``dash-tools`` run as a user runs it: a subprocess, real exit codes and output, no Airflow for --help or --url."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dash.tools.redash_cli_output import Output

DASH_TOOLS = str(Path(sys.executable).with_name("dash-tools"))
EMAIL = "jane.doe@example.com"


def dash_tools(
    *args: str, key: str | None = None, to_key: str | None = None, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script; ``key`` goes to DASH_API_KEY, never to the arguments."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DASH_API_KEY", "DASH_TO_API_KEY")}
    environment.update(env)
    if key is not None:
        environment["DASH_API_KEY"] = key
    if to_key is not None:
        environment["DASH_TO_API_KEY"] = to_key
    return subprocess.run(
        [DASH_TOOLS, *args], env=environment, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def imported_modules(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` (PYTHONPROFILEIMPORTTIME) reported."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def airflow_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "airflow" or m.startswith("airflow.")}


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"], ["clone-dashboard", "--help"]])
def test_help_answers_without_importing_airflow(args: list[str]) -> None:
    run = dash_tools(*args, PYTHONPROFILEIMPORTTIME="1")

    assert run.returncode == 0
    assert "usage: dash-tools" in run.stdout
    assert airflow_modules(imported_modules(run.stderr)) == set()


def test_a_url_run_imports_no_airflow_and_a_connection_run_does(dash_emulator: Any) -> None:
    with_url = dash_tools(
        "find-tables", "--url", dash_emulator.url, key=dash_emulator.user_key, PYTHONPROFILEIMPORTTIME="1"
    )
    connection = json.dumps({"conn_type": "dash", "host": dash_emulator.url, "password": dash_emulator.user_key})
    with_conn = dash_tools(
        "find-tables", "--conn-id", "tools_cli", PYTHONPROFILEIMPORTTIME="1", AIRFLOW_CONN_TOOLS_CLI=connection
    )

    assert (with_url.returncode, with_conn.returncode) == (0, 0)
    assert "orders  1, 2, 3, 4, 5, 6, 7" in with_url.stdout
    assert with_conn.stdout == with_url.stdout
    url_modules = imported_modules(with_url.stderr)
    assert "airflow_provider_dash.hooks.redash_client" in url_modules  # the check sees what was imported
    assert airflow_modules(url_modules) == set()
    assert "airflow.sdk" in airflow_modules(imported_modules(with_conn.stderr))  # and would see Airflow


def test_scan_exits_1_with_a_table_of_matches_and_0_when_clean(dash_emulator: Any) -> None:
    planted = dash_emulator.add_query("contact", f"select '{EMAIL}' as email")
    dash_emulator.seed_result(planted)
    url, key = dash_emulator.url, dash_emulator.user_key

    found = dash_tools("scan", "--url", url, EMAIL.upper(), key=key)
    clean = dash_tools("scan", "--url", url, "nobody@example.net", key=key)

    assert found.returncode == 1
    lines = found.stdout.splitlines()
    assert lines[0].split() == ["kind", "id", "where", "term", "rows", "url"]
    assert f"query  {planted}   SQL" in found.stdout
    assert f"{url}/queries/{planted}" in found.stdout
    assert "latest result" in found.stdout
    assert lines[-1].startswith("2 match(es) of 1 term(s)")
    assert (clean.returncode, clean.stderr) == (0, "")  # piped: no progress bar
    assert clean.stdout.startswith("0 match(es)")
    assert key not in found.stdout + found.stderr + clean.stdout + clean.stderr


def test_scan_reads_terms_from_standard_input_and_prints_json(dash_emulator: Any) -> None:
    planted = dash_emulator.add_query("contact", "select 1", description=EMAIL)

    run = dash_tools(
        "scan",
        "--url",
        dash_emulator.url,
        "--terms-from",
        "-",
        "--format",
        "json",
        "--no-results",
        key=dash_emulator.user_key,
        stdin=f"{EMAIL}\n\nsomeone@else.org\n",
    )

    report = json.loads(run.stdout)
    assert run.returncode == 1
    assert report["terms"] == [EMAIL, "someone@else.org"]
    assert [(m["kind"], m["id"], m["where"]) for m in report["matches"]] == [("query", planted, "description")]


def test_find_tables_exits_1_and_shows_sql_that_does_not_parse(dash_emulator: Any) -> None:
    broken = dash_emulator.add_query("broken", "SELECT id\nFROM\nWHERE x = 1")

    run = dash_tools("find-tables", "--url", dash_emulator.url, key=dash_emulator.user_key)

    assert run.returncode == 1
    assert "SQL that does not parse:" in run.stdout
    assert f"{broken}      broken  line 3" in run.stdout


def test_export_then_import_through_the_command_line(dash_emulator: Any, second_emulator: Any, tmp_path: Path) -> None:
    folder = str(tmp_path / "backup")

    exported = dash_tools("export-queries", "--url", dash_emulator.url, folder, key=dash_emulator.user_key)
    again = dash_tools(
        "export-queries", "--url", dash_emulator.url, folder, "--format", "json", key=dash_emulator.user_key
    )
    imported = dash_tools("import-queries", "--url", second_emulator.url, folder, key=second_emulator.user_key)

    assert (exported.returncode, again.returncode, imported.returncode) == (0, 0, 0)
    assert exported.stdout.splitlines()[-1].startswith("7 queries exported to")
    assert json.loads(again.stdout)["unchanged"] == 7
    assert imported.stdout.splitlines()[-1] == f"7 queries imported from {folder} into {second_emulator.url}"
    assert sorted(q.name for q in second_emulator.objects.queries.values()) == sorted(
        q.name for q in dash_emulator.objects.queries.values() if not q.is_archived
    )


def test_clone_dry_run_then_clone_onto_another_server_and_a_failure_exits_1(
    dash_emulator: Any, second_emulator: Any, dash_emulator_factory: Any
) -> None:
    source = ("--url", dash_emulator.url)
    key = dash_emulator.user_key

    dry = dash_tools("clone-dashboard", *source, "sales-overview", "--dry-run", key=key)
    done = dash_tools(
        "clone-dashboard", *source, "1", "--to-url", second_emulator.url, key=key, to_key=second_emulator.user_key
    )
    bare = dash_emulator_factory(demo_data=False)
    failed = dash_tools("clone-dashboard", *source, "1", "--to-url", bare.url, key=key, to_key=bare.user_key)

    assert (dry.returncode, done.returncode, failed.returncode) == (0, 0, 1)
    assert dry.stdout.splitlines()[-1] == "Dry run: nothing was created."
    assert len(dash_emulator.objects.dashboards) == 4
    assert (
        f"as dashboard 1 'Copy of Sales Overview': {second_emulator.url}/dashboards/1-copy-of-sales-overview"
        in done.stdout
    )
    assert "no data source named 'sample-pg'" in failed.stderr
    assert "Nothing was created" in failed.stderr
    assert bare.objects.queries == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "--url", "http://127.0.0.1:9", "x"], "needs an API key in the environment variable DASH_API_KEY"),
        (["scan", "--url", "http://127.0.0.1:9", "--conn-id", "c", "x"], "not allowed with argument"),
        (["scan", "--url", "http://127.0.0.1:9"], "give at least one term"),
        (["find-tables", "--url", "http://127.0.0.1:9", "--concurrency", "0"], "concurrency must be a whole number"),
        (["teleport"], "invalid choice: 'teleport'"),
        (["find-tables", "--url", "ftp://example.com"], "is not a base URL"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(args: list[str], message: str) -> None:
    key = "k" if "needs an API key" not in message else None

    run = dash_tools(*args, key=key)

    assert run.returncode == 2
    assert message in run.stderr


def test_an_unknown_connection_is_a_usage_error() -> None:
    run = dash_tools("find-tables", "--conn-id", "no_such_connection")

    assert run.returncode == 2
    assert "cannot read the Airflow connection 'no_such_connection'" in run.stderr


def test_the_progress_bar_is_drawn_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, drawn in ((Terminal(), True), (io.StringIO(), False)):
        output = Output("table", out=io.StringIO(), err=stream)
        with output.progress() as progress:
            progress.begin("Searching", 3)
            progress.advance(3)
        assert bool(stream.getvalue()) is drawn


def test_a_folder_that_cannot_be_written_is_a_failure_not_a_traceback(dash_emulator: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    run = dash_tools("export-queries", "--url", dash_emulator.url, str(blocker / "backup"), key=dash_emulator.user_key)

    assert run.returncode == 1
    assert run.stderr.startswith("dash-tools export-queries: error: [Errno 20] Not a directory")
    assert "Traceback" not in run.stderr
