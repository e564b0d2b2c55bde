"""Tools: ``scan`` and ``export-queries`` over 2,000 queries with results, 20 ms per request, vs one request at a time.

Method
------
* The emulator (own process) holds the demo data plus 2,000 saved queries, each with a latest result
  (20 rows of ``orders``, one column holding an e-mail-like text), and every request it answers
  waits 20 ms first (``set_faults(latency=0.02)``, an ``asyncio.sleep``: a server farther away, not
  a busier one). The queries use 100 distinct SQL texts, so 20 of them share each result (as
  Redash shares one result between identical texts): the emulator keeps each result in an SQLite
  table of its own and opens a connection per download, whose schema load grows with the number
  of tables (4.4 ms per download, on its event loop, with 2,000 tables, against 2.3 ms with 1,000),
  which would measure the emulator, not the client. Every query's result is still downloaded.
* Each run is a fresh child process with an Airflow-free ``RedashClient`` (what ``dash-tools --url``
  uses): ``scan`` (every query's fields and latest result, streamed, and every dashboard) for a term
  found nowhere, and a full ``export-queries`` to an empty folder (list pages, then each query with
  its visualizations, one file each).
* Wall time is measured around the call. Baseline, same run, same data: the same call with a pool
  of one worker, i.e. one request at a time in the calling thread (what the original scripts do).
  The tools run with their default pool of 8.
* Memory: the same concurrent calls again in fresh processes with ``tracemalloc`` on (its peak of
  Python allocations during the call, above what was allocated before it), first with 1,000 queries
  on the server, then with 2,000: flat means the peak hardly grows with the number of queries. (Both
  are past the pages read ahead: 250 queries a page, at most 2 pages ahead of the reader.)

Budgets: baseline wall / pool wall >= 5 for each tool; peak at 2,000 queries <= 1.5x the peak at 1,000.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from typing import Any

from benchmarks.emulator_proc import EmulatorProcess
from benchmarks.report import Figure, budget, info

NAME = "tools"
QUERIES = 2_000
FEW = 1_000
#: Distinct SQL texts (and so results) among the queries.
TEXTS = 100
LATENCY = 0.02
SPEEDUP_BUDGET = 5.0
MEMORY_RATIO_BUDGET = 1.5
TERM = "nobody.at.all@example.invalid"


def _add_queries(emu: EmulatorProcess, start: int, stop: int) -> None:
    first_of_text: dict[int, int] = {}
    for i in range(start, stop):
        sql = f"SELECT {i % TEXTS} AS q, id, customer || '@example.com' AS email, amount FROM orders LIMIT 20"
        query_id = emu.call("add_query", f"bench tools {i}", sql, tags=["bench"], description=f"query {i}")
        first_of_text.setdefault(i % TEXTS, query_id)
    for query_id in first_of_text.values():
        emu.call("seed_result", query_id)  # the latest result of every query with that text


def _run(conn: Any, url: str, key: str, tool: str, workers: int, trace: bool) -> None:
    """In a fresh process: run one tool once and send back its wall time (and tracemalloc peak)."""
    import tracemalloc

    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.pool import BoundedPool
    from airflow_provider_dash.tools.redash_export import export_queries
    from airflow_provider_dash.tools.redash_scan import scan

    client = RedashClient.from_url(url, key, retries=1)
    client.get_session()  # the session and one request before measuring
    with tempfile.TemporaryDirectory(prefix="dash-bench-tools-") as folder, BoundedPool(workers) as pool:
        if trace:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        if tool == "scan":
            report = scan(client, [TERM], pool=pool)
            count, extra = report.queries, report.results
            assert report.clean, report.summary()
        else:
            summary = export_queries(client, folder, pool=pool)
            count, extra = len(summary.written), summary.unchanged
            assert not summary.failures, summary.summary()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - base if trace else 0
    conn.send({"seconds": seconds, "peak": peak, "count": count, "extra": extra})
    conn.close()


def _measure(emu: EmulatorProcess, tool: str, workers: int, trace: bool = False) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_run, args=(child, emu.url, emu.user_key, tool, workers, trace))
    process.start()
    child.close()
    if not parent.poll(900):
        process.kill()
        raise RuntimeError(f"{tool} with {workers} worker(s) did not finish")
    outcome: dict[str, Any] = parent.recv()
    process.join(30)
    mode = "traced " if trace else ""
    print(
        f"  [{NAME}] {tool:<6} {mode}{workers} worker(s): {outcome['seconds']:.2f} s, {outcome['count']} queries"
        + (f", peak {outcome['peak'] / 2**20:.2f} MiB" if trace else ""),
        flush=True,
    )
    return outcome


def run(quick: bool = False) -> list[Figure]:
    """Run the tools benchmark. :return: its figures."""
    total, few = (1_200, 800) if quick else (QUERIES, FEW)
    figures: list[Figure] = []
    with EmulatorProcess(workers=2, demo_data=True, time_scale=1) as emu:
        _add_queries(emu, 0, few)
        emu.call("set_faults", latency=LATENCY)
        peaks_few = {tool: _measure(emu, tool, 8, trace=True)["peak"] for tool in ("scan", "export")}
        emu.call("clear_faults")
        _add_queries(emu, few, total)
        emu.call("set_faults", latency=LATENCY)
        for tool in ("scan", "export"):
            baseline = _measure(emu, tool, 1)
            pooled = _measure(emu, tool, 8)
            peak = _measure(emu, tool, 8, trace=True)["peak"]
            label = "scan" if tool == "scan" else "export-queries"
            figures += [
                info(
                    NAME, f"{label}: one request at a time", baseline["seconds"], "s", f"{total:,} queries, 20 ms each"
                ),
                info(NAME, f"{label}: pool of 8 (default)", pooled["seconds"], "s"),
                budget(
                    NAME,
                    f"{label}: speed-up of the pool over one request at a time",
                    baseline["seconds"] / pooled["seconds"],
                    SPEEDUP_BUDGET,
                    "x",
                    at_least=True,
                ),
                budget(
                    NAME,
                    f"{label}: peak Python memory, {total:,} / {few:,} queries",
                    peak / max(peaks_few[tool], 1),
                    MEMORY_RATIO_BUDGET,
                    "x",
                    note=f"{peaks_few[tool] / 2**20:.2f} MiB at {few:,}, {peak / 2**20:.2f} MiB at {total:,}",
                ),
            ]
    return figures
