"""DAG-parse cost: import time the provider's operators and sensors add on top of ``airflow.sdk``.

Method
------
Each measurement is a fresh interpreter (``python -c``) that imports ``airflow.sdk`` first (every
DAG file does), then times (``time.perf_counter``) importing the modules under test. Every module
of ``airflow_provider_dash.operators`` and ``airflow_provider_dash.sensors`` is imported in the
same interpreter. The baseline, timed the same way in the same run, is the dbt Cloud provider's
operator module (``airflow.providers.dbt.cloud.operators.dbt``). The two alternate, ``RUNS`` times
each; the medians are compared. ``python -X importtime`` on the same command shows where the time
goes if a budget fails.

Python's bytecode cache is on, as in a deployment (pip compiles on install), and kept apart under
``benchmarks/out/pycache``; one unmeasured run of each fills it. This matters here: the sandbox sets
``PYTHONDONTWRITEBYTECODE``, and without the cache every run times the compiler, not the import.

Budgets: <= 50 ms added, and <= 0.25x the dbt Cloud figure.
"""

from __future__ import annotations

import os
import pkgutil
import statistics
import subprocess
import sys
import tempfile

from benchmarks.report import OUT_DIR, Figure, budget, info

NAME = "parse"
RUNS = 7
ADDED_BUDGET_MS = 50.0
RATIO_BUDGET = 0.25
DBT = "airflow.providers.dbt.cloud.operators.dbt"
PYCACHE = OUT_DIR / "pycache"
SNIPPET = (
    "import sys, time\n"
    "import airflow.sdk\n"
    "started = time.perf_counter()\n"
    "for name in sys.argv[1:]:\n"
    "    __import__(name)\n"
    "print(time.perf_counter() - started)\n"
)


def provider_modules() -> list[str]:
    """Every module of the provider's operator and sensor packages."""
    import airflow_provider_dash.operators
    import airflow_provider_dash.sensors

    names = []
    for package in (airflow_provider_dash.operators, airflow_provider_dash.sensors):
        names += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    return sorted(names)


def import_seconds(modules: list[str], env: dict[str, str]) -> float:
    """Seconds a fresh interpreter takes to import ``modules`` after ``airflow.sdk``."""
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, *modules], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {modules} failed: {done.stderr.strip()[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Figure]:
    """Run the parse-cost benchmark. :return: its figures."""
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="dash-bench-airflow-"))
    # A DAG processor imports compiled bytecode (pip compiles on install; Python caches the rest).
    # Without it every run would time the compiler, not the import: cache the bytecode in a
    # separate git-ignored tree, so neither the sources nor the venv get __pycache__ folders.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    ours_modules = provider_modules()
    runs = 3 if quick else RUNS
    import_seconds([DBT], env)  # warm the OS file cache and .pyc files for both
    import_seconds(ours_modules, env)
    ours, dbt = [], []
    for _ in range(runs):
        ours.append(1000 * import_seconds(ours_modules, env))
        dbt.append(1000 * import_seconds([DBT], env))
    ours_ms, dbt_ms = statistics.median(ours), statistics.median(dbt)
    print(f"  [{NAME}] ours {[round(x) for x in ours]} ms, dbt {[round(x) for x in dbt]} ms", flush=True)
    return [
        info(NAME, "dbt Cloud operator module: import after airflow.sdk", dbt_ms, "ms", f"median of {runs}"),
        budget(
            NAME,
            "provider operators + sensors: import after airflow.sdk",
            ours_ms,
            ADDED_BUDGET_MS,
            "ms",
            note=f"median of {runs}; {len(ours_modules)} modules",
        ),
        budget(NAME, "provider / dbt Cloud import time", ours_ms / dbt_ms, RATIO_BUDGET, "x"),
    ]
