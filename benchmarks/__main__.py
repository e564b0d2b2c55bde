"""``python -m benchmarks [name ...] [--quick]``: run the benchmarks, print the table, write the files.

Exit status 1 when a budget fails or a benchmark crashes, 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

NAMES = ("parse", "latency", "fanout", "export", "triggerer", "sqltables", "tools", "posthog")


def _runner(name: str) -> Callable[..., Any]:
    import importlib

    module = {"parse": "parse_cost", "sqltables": "sql_tables", "posthog": "posthog_runs"}.get(name, name)
    return importlib.import_module(f"benchmarks.{module}").run  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default). :return: the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help="any of: " + ", ".join(NAMES) + " (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller loads (a smoke run; figures not comparable)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    names = list(dict.fromkeys(args.names)) or list(NAMES)
    # Before anything imports Airflow: a throw-away home, never the user's ~/airflow.
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="dash-bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the tasks' info lines drown the table

    from benchmarks.report import Report, draw_scaling, text_table, write_json, write_markdown

    report = Report()
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            outcome = _runner(name)(quick=args.quick)
        except Exception as error:  # one crashed benchmark must not hide the others
            traceback.print_exc()
            report.errors[name] = f"{type(error).__name__}: {error}"
        else:
            if isinstance(outcome, tuple):
                figures, series = outcome
                report.series[name] = series
            else:
                figures = outcome
            report.figures += figures
        report.seconds[name] = round(time.perf_counter() - started, 1)
        print(f"   {name} took {report.seconds[name]:.0f} s", flush=True)

    print()
    print(text_table(report))
    print()
    print(f"wrote {write_json(report)}")
    if "triggerer" in report.series:
        chart = draw_scaling(report.series["triggerer"])
        if chart is not None:
            print(f"wrote {chart}")
    if set(names) == set(NAMES) and not args.quick:
        print(f"wrote {write_markdown(report, benchmarks=names)}")
    else:
        print("benchmarks/RESULTS.md is only rewritten by a full run (all benchmarks, no --quick)")
    print(f"overall: {'FAIL' if report.failed else 'pass'}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
