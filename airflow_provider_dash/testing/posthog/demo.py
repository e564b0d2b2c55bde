"""Demo data for the PostHog emulator: what the example DAG, ``make demo`` and the end-to-end test run against.

Two tables and three endpoints: ``daily_signups`` (HogQL, variable ``country``, default ``US``),
``events_export`` (10,000 rows, for paging and export) and ``slow_signups`` (the same query as
``daily_signups`` taking ``slow_seconds`` per computed run, so a deferrable task certainly defers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_dash.testing.posthog import PostHogEmulator

SIGNUPS_SQL = "SELECT day, sum(n) AS signups FROM signups WHERE country = {variables.country} GROUP BY day ORDER BY day"
EVENTS_SQL = "SELECT id, event, day, amount FROM events ORDER BY id"
EVENT_ROWS = 10_000
COUNTRIES = ("US", "DE", "FR")


def seed_demo(emulator: PostHogEmulator, slow_seconds: float = 3.0) -> PostHogEmulator:
    """Add the demo tables and endpoints to ``emulator``. :return: the emulator."""
    emulator.add_table(
        "signups",
        [("day", "TEXT"), ("country", "TEXT"), ("n", "INTEGER")],
        # 90 days from 2024-01-01, three countries, deterministic counts
        "WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 89) "
        "SELECT date('2024-01-01', '+' || i || ' days'), c.country, 10 + (i * 7 + c.k * 13) % 50 "
        "FROM d, (SELECT 'US' AS country, 1 AS k UNION ALL SELECT 'DE', 2 UNION ALL SELECT 'FR', 3) AS c",
    )
    emulator.add_table(
        "events",
        [("id", "INTEGER"), ("event", "TEXT"), ("day", "TEXT"), ("amount", "REAL")],
        f"WITH RECURSIVE e(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM e WHERE i < {EVENT_ROWS}) "
        "SELECT i, CASE i % 3 WHEN 0 THEN 'signup' WHEN 1 THEN 'login' ELSE 'purchase' END, "
        "date('2024-01-01', '+' || (i % 90) || ' days'), round((i % 997) * 1.5, 2) FROM e",
    )
    emulator.add_endpoint("daily_signups", SIGNUPS_SQL, variables={"country": "US"}, description="Signups per day")
    emulator.add_endpoint("events_export", EVENTS_SQL, description="Every event, for exports")
    emulator.add_endpoint("slow_signups", SIGNUPS_SQL, variables={"country": "US"}, delay=slow_seconds)
    return emulator
