"""Run the example DAGs against the bundled emulators with ``airflow dags test``, and say what happened.

What it does, from nothing but an installed virtualenv:

1. starts one emulator per DAG on a free 127.0.0.1 port, in this process, with its demo data: the
   Redash emulator (``airflow_provider_dash.testing.RedashEmulator``) for the ``example_dash_*``
   DAGs, the PostHog Endpoints emulator (``airflow_provider_dash.testing.posthog``) for
   ``example_posthog_endpoint``;
2. creates a throw-away ``AIRFLOW_HOME`` (SQLite, no Airflow examples, DAGs folder =
   ``example_dags/``) and migrates its database;
3. points the ``dash_default`` (or ``posthog_default``) connection at it (``AIRFLOW_CONN_<ID>``);
4. runs each example DAG with ``airflow dags test`` (its deferrable tasks run their triggers
   inline), logging each run to a file;
5. prints, per DAG: the state of every task, the query executions the emulator saw, the query
   result ids and row counts the tasks returned, and the time taken.

Exit status 0 when every DAG run succeeded, 1 otherwise. The API key is never printed.

Usage: ``python scripts/demo.py [--keep] [--dag DAG_ID ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
CONN_ID = "dash_default"

#: (DAG id, logical date). The demo orders span 2024-01-01 .. 2024-03-28, so dates that depend on
#: ``{{ ds }}`` are picked inside that range.
DEMO_RUNS: tuple[tuple[str, str], ...] = (
    ("example_dash_scheduled_refresh", "2024-03-01"),
    ("example_dash_refresh_dashboard", "2024-03-01"),
    ("example_dash_submit_and_sense", "2024-03-01"),
    ("example_dash_quality_gate", "2024-03-01"),
    ("example_dash_tools", "2024-03-01"),
    ("example_posthog_endpoint", "2024-03-01"),
)
POSTHOG_CONN_ID = "posthog_default"

DAG_TEST_TIMEOUT = 120
#: the emulator's counters name a job status route by this template (with or without a query id).
JOB_ROUTE = "/jobs/{job_id}"


@dataclass
class DagOutcome:
    """What one ``airflow dags test`` run did."""

    dag_id: str
    logical_date: str
    returncode: int
    elapsed: float
    log_path: Path
    emulator_url: str
    requests: int = 0
    executions: dict[tuple[int | None, str], int] = field(default_factory=dict)
    job_polls: int = 0
    run_state: str | None = None
    tasks: list[tuple[str, str | None, float | None]] = field(default_factory=list)
    xcoms: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the command succeeded and the run ended in ``success``."""
        return self.returncode == 0 and self.run_state == "success"


def _say(text: str) -> None:
    print(text, flush=True)


def _is_posthog(dag_id: str) -> bool:
    return dag_id.startswith("example_posthog_")


def _emulator(dag_id: str) -> Any:
    """A started emulator with the demo data the DAG runs against (stop it when done)."""
    if _is_posthog(dag_id):
        from airflow_provider_dash.testing.posthog import PostHogEmulator
        from airflow_provider_dash.testing.posthog.demo import seed_demo

        return seed_demo(PostHogEmulator().start())
    from airflow_provider_dash.testing import RedashEmulator

    return RedashEmulator().start()


def _connection(dag_id: str, emulator: Any) -> tuple[str, dict[str, Any]]:
    """The connection id the DAG uses and its fields pointing at ``emulator``."""
    if _is_posthog(dag_id):
        fields = {"conn_type": "posthog", "host": emulator.url, "password": emulator.personal_key}
        return POSTHOG_CONN_ID, {**fields, "extra": {"project_id": emulator.project_id}}
    return CONN_ID, {"conn_type": "dash", "host": emulator.url, "password": emulator.user_key}


def _airflow_env(home: Path, conn: tuple[str, dict[str, Any]] | None) -> dict[str, str]:
    # The developer's own AIRFLOW__* settings must not change what the demo does.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "DASH_EXAMPLE_EXPORT_DIR": str(home / "exports"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if conn is not None:
        env[f"AIRFLOW_CONN_{conn[0].upper()}"] = json.dumps(conn[1])
    return env


def _run_logged(args: Sequence[str], env: dict[str, str], log_path: Path, timeout: float) -> int:
    with log_path.open("wb") as out:
        try:
            return subprocess.run(
                list(args), env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\n[demo] timed out after {timeout:.0f}s\n".encode())
            return 124


def _deferred_tasks(log_path: Path) -> set[str]:
    """The tasks that deferred (and had their trigger run in line) during ``airflow dags test``."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return set(re.findall(r"Pausing task as DEFERRED\..*?\btask_id=(\S+)", text))


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _read_run(outcome: DagOutcome, database: Path) -> None:
    """Fill run state, task states and XComs of ``outcome`` from one demo Airflow database."""
    # Imported late: Airflow reads its configuration when first imported, and by now the
    # environment points at the demo's AIRFLOW_HOME.
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            run = session.scalars(
                select(DagRun).where(DagRun.dag_id == outcome.dag_id).order_by(DagRun.id.desc()).limit(1)
            ).first()
            if run is None:
                return
            outcome.run_state = str(run.state) if run.state is not None else None
            tis = session.scalars(
                select(TaskInstance)
                .where(TaskInstance.dag_id == outcome.dag_id, TaskInstance.run_id == run.run_id)
                .order_by(TaskInstance.start_date)
            ).all()
            outcome.tasks = [(ti.task_id, str(ti.state) if ti.state else None, ti.duration) for ti in tis]
            rows = session.scalars(
                select(XComModel).where(XComModel.dag_id == outcome.dag_id, XComModel.run_id == run.run_id)
            )
            for row in rows:
                outcome.xcoms.setdefault(row.task_id, {})[row.key] = XComModel.deserialize_value(row)
    finally:
        engine.dispose()


def _describe_value(value: Any) -> list[str]:
    """Lines that say what a task returned: result ids and row counts first, else short JSON."""
    if isinstance(value, dict) and "endpoint" in value:
        rows = value.get("row_count", value.get("rows"))
        where = f", written to {value['path']}" if value.get("path") else ""
        return [f"endpoint {value['endpoint']}: {rows} rows in {value.get('pages')} page(s){where}"]
    if isinstance(value, dict) and "rows" in value:
        where = f", written to {value['path']}" if value.get("path") else ""
        result_id = value.get("result_id", value.get("query_result_id"))
        return [f"query result {result_id}: {value['rows']} rows{where}"]
    if isinstance(value, list) and value and all(isinstance(v, dict) and "query_id" in v for v in value):
        lines = []
        for v in value:
            result = v.get("result_id", v.get("query_result_id"))
            rows = f", {v['rows']} rows" if "rows" in v else ""
            lines.append(f"query {v['query_id']}: result {result}{rows}")
        return lines
    if isinstance(value, dict) and "written" in value and "unchanged" in value:
        return [
            f"a backup of {value['queries']} queries in {value['location']}: {len(value['written'])} files written, "
            f"{value['unchanged']} unchanged, {len(value['removed'])} removed"
        ]
    if isinstance(value, dict) and "matches" in value and "terms" in value:
        return [
            f"a privacy scan for {len(value['terms'])} term(s): {len(value['matches'])} match(es) in "
            f"{value['queries']} queries, {value['results']} latest results and {value['dashboards']} dashboards"
        ]
    if isinstance(value, int):
        return [f"query result id {value}"]
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return [text if len(text) <= 100 else text[:97] + "..."]


def _print_summary(outcomes: list[DagOutcome], total: float) -> None:
    _say("")
    _say("=" * 78)
    _say(f"Summary (connections {CONN_ID!r} and {POSTHOG_CONN_ID!r}; each DAG ran against its own emulator)")
    _say("=" * 78)
    for o in outcomes:
        verdict = "OK" if o.ok else "FAILED"
        _say(f"\n{o.dag_id}  [{verdict}]  logical date {o.logical_date}, {o.elapsed:.1f}s, {o.emulator_url}")
        deferred = _deferred_tasks(o.log_path)
        for task_id, state, duration in o.tasks:
            took = f"{duration:.1f}s" if duration is not None else "-"
            note = "  (deferred; its trigger ran in line)" if task_id in deferred else ""
            _say(f"  task {task_id:<20} {state or 'none':<16} {took:>6}{note}")
        for (query_id, params), count in sorted(o.executions.items(), key=lambda kv: str(kv[0])):
            times = f" ({count} times)" if count > 1 else ""
            _say(f"  server ran query {query_id} with {params}{times}")
        if not o.executions:
            _say("  server ran no query (cached results only)")
        _say(f"  server answered {o.requests} API requests, {o.job_polls} of them job status polls")
        for task_id, values in o.xcoms.items():
            if "job_id" in values:
                _say(f"  {task_id} submitted job {values['job_id']}")
            if values.get("return_value") is not None:
                for line in _describe_value(values["return_value"]):
                    _say(f"  {task_id} returned {line}")
        if not o.ok:
            _say(f"  log: {o.log_path}\n  ---- last lines ----\n{_tail(o.log_path)}")
    failed = [o.dag_id for o in outcomes if not o.ok]
    _say("")
    _say(f"{len(outcomes) - len(failed)}/{len(outcomes)} DAG runs succeeded; {total:.1f}s in all.")
    if failed:
        _say(f"Failed: {', '.join(failed)}")


def _dags_test(dag_id: str, logical_date: str, env: dict[str, str], log_path: Path) -> tuple[int, float]:
    t0 = time.monotonic()
    rc = _run_logged(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical_date], env, log_path, DAG_TEST_TIMEOUT
    )
    return rc, time.monotonic() - t0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo.

    :return: the exit status (0 when every DAG run succeeded).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIRFLOW_HOME")
    parser.add_argument("--dag", action="append", help="run only this DAG id (repeatable)")
    args = parser.parse_args(argv)
    runs = [r for r in DEMO_RUNS if not args.dag or r[0] in args.dag]
    if not runs:
        parser.error(f"no such example DAG; choose from {', '.join(d for d, _ in DEMO_RUNS)}")

    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="airflow-dash-demo-"))
    outcomes: list[DagOutcome] = []
    try:
        with ExitStack() as stack:
            # One emulator per DAG: the runs go in parallel, and each one's server counters
            # then tell exactly what that DAG did.
            emulators: dict[str, Any] = {}
            for dag_id, _ in runs:
                emulator = emulators[dag_id] = _emulator(dag_id)
                stack.callback(emulator.stop)  # at once: a later start that fails stops this one
            _say(f"Emulators with demo data on {', '.join(e.url for e in emulators.values())}")

            template = root / "template"
            template.mkdir()
            _say(f"Airflow homes under {root} (SQLite); migrating the database ...")
            env = _airflow_env(template, conn=None)
            migrate_log = root / "db-migrate.log"
            if _run_logged([sys.executable, "-m", "airflow", "db", "migrate"], env, migrate_log, 180) != 0:
                _say(f"airflow db migrate failed:\n{_tail(migrate_log)}")
                return 1

            jobs = {}
            with ThreadPoolExecutor(max_workers=len(runs)) as pool:
                for dag_id, logical_date in runs:
                    home = root / dag_id
                    home.mkdir()
                    shutil.copy2(template / "airflow.db", home / "airflow.db")
                    conn = _connection(dag_id, emulators[dag_id])
                    log_path = root / f"dags-test-{dag_id}.log"
                    _say(f"airflow dags test {dag_id} {logical_date}  (log: {log_path.name})")
                    future = pool.submit(_dags_test, dag_id, logical_date, _airflow_env(home, conn), log_path)
                    jobs[future] = (dag_id, logical_date, log_path)
                for future in as_completed(jobs):
                    dag_id, logical_date, log_path = jobs[future]
                    rc, elapsed = future.result()
                    _say(f"  {dag_id}: exit {rc} after {elapsed:.1f}s")
                    outcome = DagOutcome(dag_id, logical_date, rc, elapsed, log_path, emulators[dag_id].url)
                    counters = emulators[dag_id].counters
                    outcome.executions = counters.execution_table()
                    table = counters.request_table()
                    outcome.requests = sum(table.values())
                    outcome.job_polls = sum(
                        n
                        for (route, method, _), n in table.items()
                        if route.endswith("/jobs/{job_id}") and method == "GET"
                    )
                    outcomes.append(outcome)

        outcomes.sort(key=lambda o: [d for d, _ in runs].index(o.dag_id))
        os.environ.update(env)  # Airflow, imported now, must not create ~/airflow
        for outcome in outcomes:
            _read_run(outcome, root / outcome.dag_id / "airflow.db")
        _print_summary(outcomes, time.monotonic() - started)
    finally:
        ok = bool(outcomes) and all(o.ok for o in outcomes)
        if args.keep or not ok:
            _say(f"Logs and databases kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
