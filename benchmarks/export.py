"""Export: a 1,000,000-row result streamed to a local CSV file, against a raw ``requests`` copy.

Method
------
* The emulator (own process) holds a 1,000,000-row table made by SQLite itself (a recursive CTE:
  an integer id, a text name, a real amount, a date and a flag); a saved query selects it all and
  is run once through the provider, giving a stored result. Each download is its CSV, streamed by
  the server.
* Each download runs in a fresh child process. RSS is sampled every 5 ms by a thread (psutil);
  growth = the peak during the download minus the RSS just before it (after imports and one small
  request on the same session, so the imports and the session are not counted).
* Provider: ``DashHook.download_query_result(result_id, path)`` (atomic write to a temporary file,
  then rename). Baseline: ``requests.get(url, stream=True)`` with the same API-key header and
  ``iter_content(64 KiB)`` written to a file. The two run alternately, twice each; the best
  throughput of each is compared (a shared machine only ever makes a run slower). The emulator
  writes the CSV in Python and sets the pace of both, so the client CPU per MiB of each (process
  time of the downloading process) is reported too: it shows the provider's own cost.

Budgets: peak RSS growth <= 64 MiB; throughput >= 0.8x the raw copy.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from typing import Any

from benchmarks.emulator_proc import EmulatorProcess
from benchmarks.report import Figure, budget, info

NAME = "export"
CONN_ID = "dash_bench_export"
ROWS = 1_000_000
RSS_BUDGET_MIB = 64.0
THROUGHPUT_RATIO = 0.8
CHUNK = 64 * 1024
TABLE_SQL = (
    "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows}) "
    "SELECT i, 'customer ' || (i % 5000), round((i % 10000) * 1.37, 2), "
    "date('2024-01-01', '+' || (i % 365) || ' days'), i % 2 FROM seq"
)


def _download(conn: Any, env: dict[str, str], mode: str, url: str, key: str, result_id: int, path: str) -> None:
    """Download once in this fresh process and report bytes, seconds and RSS growth."""
    os.environ.update(env)
    import threading

    import psutil
    import requests

    from airflow_provider_dash.hooks.redash import DashHook

    process = psutil.Process()
    headers = {"Authorization": f"Key {key}"}
    if mode == "provider":
        hook = DashHook(CONN_ID)
        hook.get_session()  # connection lookup, session and one request before measuring
        act = lambda: hook.download_query_result(result_id, path)  # noqa: E731
    else:
        session = requests.Session()
        session.get(f"{url}/api/session", headers=headers).raise_for_status()

        def act() -> int:
            written = 0
            with session.get(f"{url}/api/query_results/{result_id}.csv", headers=headers, stream=True) as response:
                response.raise_for_status()
                with open(path, "wb") as out:
                    for chunk in response.iter_content(chunk_size=CHUNK):
                        out.write(chunk)
                        written += len(chunk)
            return written

    peak = before = process.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    written = act()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    done.set()
    sampler.join()
    peak = max(peak, process.memory_info().rss)
    conn.send({"mode": mode, "bytes": written, "seconds": seconds, "cpu_s": cpu, "rss_growth": peak - before})
    conn.close()


def _measure(emu: EmulatorProcess, mode: str, result_id: int, path: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    env = {**emu.conn_env(CONN_ID, retries=1), "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", "")}
    process = ctx.Process(target=_download, args=(child, env, mode, emu.url, emu.user_key, result_id, path))
    process.start()
    child.close()
    if not parent.poll(600):
        process.kill()
        raise RuntimeError(f"the {mode} download did not finish")
    outcome: dict[str, Any] = parent.recv()
    process.join(30)
    outcome["mib_per_s"] = outcome["bytes"] / outcome["seconds"] / 2**20
    outcome["cpu_ms_per_mib"] = 1000 * outcome["cpu_s"] / (outcome["bytes"] / 2**20)
    print(
        f"  [{NAME}] {mode:<8} {outcome['bytes'] / 2**20:.1f} MiB in {outcome['seconds']:.2f} s "
        f"= {outcome['mib_per_s']:.1f} MiB/s, client CPU {outcome['cpu_ms_per_mib']:.1f} ms/MiB, "
        f"RSS growth {outcome['rss_growth'] / 2**20:.1f} MiB",
        flush=True,
    )
    return outcome


def run(quick: bool = False) -> list[Figure]:
    """Run the export benchmark. :return: its figures."""
    rows = 200_000 if quick else ROWS
    with EmulatorProcess(workers=2, demo_data=True, time_scale=1) as emu:
        os.environ.update(emu.conn_env(CONN_ID, retries=1))
        emu.call(
            "add_table",
            "bench_export",
            [("id", "INTEGER"), ("name", "TEXT"), ("amount", "REAL"), ("day", "TEXT"), ("flag", "INTEGER")],
            TABLE_SQL.format(rows=rows),
        )
        query_id = emu.call("add_query", "bench export", "SELECT * FROM bench_export")
        from airflow_provider_dash.hooks.redash import DashHook

        with DashHook(CONN_ID) as hook:
            result_id = hook.run_query(query_id, max_age=0, poll_interval=2)
        outcomes: dict[str, list[dict[str, Any]]] = {"raw": [], "provider": []}
        with tempfile.TemporaryDirectory(prefix="dash-bench-export-") as tmp:
            for round_ in range(2):
                for mode in ("raw", "provider"):
                    path = os.path.join(tmp, f"{mode}-{round_}.csv")
                    outcomes[mode].append(_measure(emu, mode, result_id, path))
                    os.unlink(path)
    raw = max(outcomes["raw"], key=lambda o: o["mib_per_s"])
    provider = max(outcomes["provider"], key=lambda o: o["mib_per_s"])
    if provider["bytes"] != raw["bytes"]:
        raise RuntimeError(f"the provider wrote {provider['bytes']} bytes, the raw copy {raw['bytes']}")
    cpu_ratio = min(o["cpu_ms_per_mib"] for o in outcomes["provider"]) / min(
        o["cpu_ms_per_mib"] for o in outcomes["raw"]
    )
    worst_rss = max(o["rss_growth"] for o in outcomes["provider"]) / 2**20
    return [
        info(NAME, "raw requests copy: throughput", raw["mib_per_s"], "MiB/s", f"{raw['bytes'] / 2**20:.0f} MiB CSV"),
        info(NAME, "provider: throughput", provider["mib_per_s"], "MiB/s", f"{rows:,} rows"),
        budget(
            NAME,
            "provider throughput / raw copy",
            provider["mib_per_s"] / raw["mib_per_s"],
            THROUGHPUT_RATIO,
            "x",
            at_least=True,
        ),
        info(
            NAME,
            "provider client CPU per MiB / raw copy",
            cpu_ratio,
            "x",
            "the emulator's CSV writer sets the pace of both; this is the client's own cost",
        ),
        budget(
            NAME,
            "provider: peak RSS growth",
            worst_rss,
            RSS_BUDGET_MIB,
            "MiB",
            note=f"raw copy: {max(o['rss_growth'] for o in outcomes['raw']) / 2**20:.1f} MiB",
        ),
    ]
