"""SQL table extraction: time to list the tables of 2,000 typical saved queries.

Method
------
2,000 queries are made from eight shapes seen in Redash installations (a filtered select with
parameters, a star-schema join of four tables, a three-CTE pipeline with window functions, ``IN`` and
``EXISTS`` subqueries, a ``UNION ALL`` report, a date-bucketed aggregate, a multi-statement
temp-table script, a BigQuery-style sharded-table query), with table, column and filter names drawn
from a seeded random generator; 4 to 25 lines each, 12 on average. ``extract_tables`` runs over all of them with
the postgres dialect, after one warm-up pass (imports, sqlglot's lazily built dialect tables). The
baseline, timed the same way in the same run, is ``sqlglot.parse`` alone on the same texts with the
placeholders already filled: the parse every extractor has to pay. ``RUNS`` alternating runs; medians.

Budgets: extraction <= 1.5x the bare parse.
"""

from __future__ import annotations

import random
import statistics
import time

from benchmarks.report import Figure, budget, info

NAME = "sqltables"
QUERIES = 2000
RUNS = 3
RATIO_BUDGET = 1.5

_TABLES = ["orders", "customers", "payments", "events", "sessions", "products", "invoices", "refunds"]
_SCHEMAS = ["public", "analytics", "sales", "finance", "raw"]
_COLUMNS = ["id", "amount", "status", "created_at", "country", "plan", "channel", "user_id"]


def _table(rng: random.Random) -> str:
    name = rng.choice(_TABLES)
    return f"{rng.choice(_SCHEMAS)}.{name}" if rng.random() < 0.6 else name


def _columns(rng: random.Random, alias: str, count: int) -> str:
    return ",\n       ".join(f"{alias}.{rng.choice(_COLUMNS)} AS c{i}" for i in range(count))


def _filtered(rng: random.Random) -> str:
    return (
        f"SELECT {_columns(rng, 't', rng.randint(3, 8))}\n"
        f"FROM {_table(rng)} t\n"
        "WHERE t.created_at >= '{{ period.start }}' AND t.created_at < '{{ period.end }}'\n"
        "  AND t.status IN ({{ statuses }})\n"
        f"  AND t.{rng.choice(_COLUMNS)} IS NOT NULL\n"
        "ORDER BY 1 DESC\nLIMIT {{ limit }}"
    )


def _star_join(rng: random.Random) -> str:
    joins = "\n".join(
        f"{rng.choice(['JOIN', 'LEFT JOIN'])} {_table(rng)} d{i} ON d{i}.id = f.{rng.choice(_COLUMNS)}"
        for i in range(3)
    )
    return (
        f"SELECT {_columns(rng, 'f', 4)},\n       d0.country, d1.plan, SUM(f.amount) AS total\n"
        f"FROM {_table(rng)} f\n{joins}\n"
        "WHERE f.created_at > now() - interval '{{ days }} days'\n"
        "GROUP BY 1, 2, 3, 4, 5, 6\nHAVING SUM(f.amount) > 0\nORDER BY total DESC"
    )


def _cte_pipeline(rng: random.Random) -> str:
    return (
        f"WITH base AS (\n  SELECT {_columns(rng, 'o', 5)}\n  FROM {_table(rng)} o\n"
        "  WHERE o.created_at >= '{{ start }}'\n),\n"
        "ranked AS (\n  SELECT b.*, ROW_NUMBER() OVER (PARTITION BY b.c0 ORDER BY b.c1 DESC) AS rn,\n"
        "         SUM(b.c2) OVER (PARTITION BY b.c0) AS running\n  FROM base b\n),\n"
        f"enriched AS (\n  SELECT r.*, x.plan\n  FROM ranked r\n  LEFT JOIN {_table(rng)} x ON x.id = r.c0\n"
        "  WHERE r.rn <= 10\n)\n"
        "SELECT plan, COUNT(*) AS n, AVG(running) AS avg_running,\n"
        "       CASE WHEN COUNT(*) > 100 THEN 'big' WHEN COUNT(*) > 10 THEN 'mid' ELSE 'small' END AS size\n"
        "FROM enriched\nGROUP BY plan\nORDER BY n DESC"
    )


def _subqueries(rng: random.Random) -> str:
    return (
        f"SELECT c.id, c.country,\n       (SELECT MAX(p.amount) FROM {_table(rng)} p WHERE p.user_id = c.id) AS top\n"
        f"FROM {_table(rng)} c\n"
        f"WHERE c.id IN (SELECT user_id FROM {_table(rng)} WHERE status = 'paid' AND amount > {{{{ min }}}})\n"
        f"  AND NOT EXISTS (SELECT 1 FROM {_table(rng)} r WHERE r.user_id = c.id)\n"
        "  AND c.created_at BETWEEN '{{ range.start }}' AND '{{ range.end }}'"
    )


def _union_report(rng: random.Random) -> str:
    parts = [
        f"SELECT '{name}' AS source, date_trunc('day', created_at) AS day, COUNT(*) AS n\n"
        f"FROM {_table(rng)}\nWHERE created_at >= current_date - {{{{ days }}}}\nGROUP BY 1, 2"
        for name in rng.sample(_TABLES, 4)
    ]
    return "\nUNION ALL\n".join(parts) + "\nORDER BY day, source"


def _bucketed(rng: random.Random) -> str:
    return (
        "SELECT date_trunc('{{ granularity }}', e.created_at) AS bucket,\n"
        "       COUNT(DISTINCT e.user_id) AS users,\n"
        "       COUNT(*) FILTER (WHERE e.status = 'ok') AS ok,\n"
        "       percentile_cont(0.9) WITHIN GROUP (ORDER BY e.amount) AS p90\n"
        f"FROM {_table(rng)} e\nJOIN {_table(rng)} s ON s.id = e.user_id AND s.channel = '{{{{ channel }}}}'\n"
        "WHERE e.created_at >= '{{ period.start }}'\nGROUP BY 1\nORDER BY 1"
    )


def _script(rng: random.Random) -> str:
    return (
        f"CREATE TEMP TABLE recent AS\nSELECT * FROM {_table(rng)} WHERE created_at > current_date - 7;\n"
        f"INSERT INTO recent SELECT * FROM {_table(rng)} WHERE status = 'late';\n"
        f"SELECT r.status, COUNT(*) FROM recent r JOIN {_table(rng)} x ON x.id = r.id GROUP BY 1;"
    )


def _sharded(rng: random.Random) -> str:
    return (
        f"SELECT user_id, COUNT(*) AS n\nFROM {rng.choice(_SCHEMAS)}.events_{{{{ day }}}} e\n"
        f"JOIN {_table(rng)} u ON u.id = e.user_id\nWHERE e.status = 'ok'\nGROUP BY 1\nORDER BY n DESC LIMIT 100"
    )


SHAPES = (_filtered, _star_join, _cte_pipeline, _subqueries, _union_report, _bucketed, _script, _sharded)


def corpus(count: int = QUERIES, seed: int = 7) -> list[str]:
    """``count`` typical saved queries, the same for the same seed."""
    rng = random.Random(seed)
    return [SHAPES[i % len(SHAPES)](rng) for i in range(count)]


def _filled(sql: str) -> str:
    # The baseline parses what Redash would send: every placeholder replaced by a value.
    from airflow_provider_dash.sql.placeholders import MaskedSql

    return MaskedSql.of(sql).text


def run(quick: bool = False) -> list[Figure]:
    """Run the extraction benchmark. :return: its figures."""
    import sqlglot

    from airflow_provider_dash.sql import extract_tables

    queries = corpus(200 if quick else QUERIES)
    filled = [_filled(sql) for sql in queries]
    for sql in queries[:50]:  # warm-up: imports and sqlglot's dialect tables
        extract_tables(sql, "postgres")
    ours, bare = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        results = [extract_tables(sql, "postgres") for sql in queries]
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        for sql in filled:
            sqlglot.parse(sql, read="postgres")
        bare.append(time.perf_counter() - started)
    failed = sum(not result.ok for result in results)
    if failed:
        raise RuntimeError(f"{failed} of the benchmark's own queries did not parse")
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    per_query_ms = 1000 * ours_s / len(queries)
    print(f"  [{NAME}] extract {[round(x, 2) for x in ours]} s, bare parse {[round(x, 2) for x in bare]} s", flush=True)
    return [
        info(NAME, f"{len(queries):,} queries: bare sqlglot.parse", bare_s, "s", f"median of {RUNS}"),
        info(NAME, f"{len(queries):,} queries: extract_tables", ours_s, "s", f"{per_query_ms:.2f} ms a query"),
        budget(NAME, "extract_tables / bare parse", ours_s / bare_s, RATIO_BUDGET, "x"),
    ]
