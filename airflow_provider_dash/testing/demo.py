"""The Redash emulator's demo data, mirroring the objects of the recorded Redash server.

Data source 1 (``sample-pg``); table ``orders`` (300 deterministic rows); queries 1 plain (with a
cached result), 2 all parameter types, 3 slow (``pg_sleep(5)``), 4 failing SQL, 5 totals by region,
6 enum parameter, 7 number parameter, 8 archived; visualizations 1-8 (TABLE, one per query) and 9
(CHART of query 5); dashboard 1 ``sales-overview`` (6 widgets, version 2), 2 archived, 3 and 4
drafts. The SQL texts are the recorded ones: they are valid SQLite too (``pg_sleep`` is emulated).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

REGIONS = ("north", "south", "east", "west")
ORDERS_COLUMNS = ("id", "customer", "region", "amount", "quantity", "created_at", "order_date")


def order_rows(count: int = 300) -> Iterator[tuple[Any, ...]]:
    """:return: the recorded ``orders`` rows: customer ``customer_<id % 37>``, region by id % 4,
    amount ``id * 7.13`` wrapped below 500, quantity ``id % 9 + 1``, one order every 7 hours
    from 2024-01-01."""
    start = dt.datetime(2024, 1, 1)
    for i in range(1, count + 1):
        created = start + dt.timedelta(hours=7 * i)
        amount = round((i * 713 % 50000) / 100, 2)
        yield (
            i,
            f"customer_{i % 37}",
            REGIONS[i % 4],
            amount,
            i % 9 + 1,
            created.strftime("%Y-%m-%d %H:%M:%S"),
            created.strftime("%Y-%m-%d"),
        )


_ENUM_REGION = "north\nsouth\neast\nwest"

QUERIES: list[dict[str, Any]] = [
    {
        "name": "Plain orders",
        "description": "first 50 orders",
        "query": "select id, customer, region, amount, quantity, created_at, order_date from orders order by id limit 50",  # noqa: E501 - literal text
        "options": {},
    },
    {
        "name": "Parameterized orders",
        "description": "all parameter types",
        "query": (
            "select id, customer, region, amount, quantity, order_date from orders\n"
            "where quantity >= {{ min_qty }}\n"
            "  and order_date >= '{{ since }}'\n"
            "  and order_date between '{{ period.start }}' and '{{ period.end }}'\n"
            "  and customer like '{{ cust }}%'\n"
            "  and region = '{{ region }}'\n"
            "order by id"
        ),
        "options": {
            "parameters": [
                {
                    "name": "min_qty",
                    "type": "number",
                    "title": "Min quantity",
                    "value": 1,
                    "global": False,
                    "locals": [],
                    "parentQueryId": None,
                },
                {
                    "name": "since",
                    "type": "date",
                    "title": "Since",
                    "value": "2024-01-15",
                    "global": False,
                    "locals": [],
                },
                {
                    "name": "period",
                    "type": "date-range",
                    "title": "Period",
                    "value": {"end": "2024-03-01", "start": "2024-01-01"},
                    "global": False,
                    "locals": [],
                },
                {
                    "name": "cust",
                    "type": "text",
                    "title": "Customer prefix",
                    "value": "customer_1",
                    "global": False,
                    "locals": [],
                },
                {
                    "name": "region",
                    "type": "enum",
                    "title": "Region",
                    "value": "north",
                    "global": False,
                    "locals": [],
                    "enumOptions": _ENUM_REGION,
                },
            ]
        },
    },
    {
        "name": "Slow query (5s)",
        "description": "sleeps 5 seconds",
        "query": "select pg_sleep(5) as slept, count(*) as n from orders",
        "options": {},
    },
    {
        "name": "Failing query",
        "description": "SQL error on purpose",
        "query": "select no_such_column from orders",
        "options": {},
    },
    {
        "name": "Totals by region",
        "description": None,
        "query": "select region, count(*) as orders, sum(amount) as total from orders group by region order by region",
        "options": {},
    },
    {
        "name": "Orders for one region (enum param)",
        "description": None,
        "query": "select region, customer, sum(amount) as total from orders where region = '{{ region }}' group by region, customer order by total desc limit 10",  # noqa: E501 - literal text
        "options": {
            "parameters": [
                {
                    "name": "region",
                    "type": "enum",
                    "title": "Region",
                    "value": "south",
                    "global": False,
                    "locals": [],
                    "enumOptions": _ENUM_REGION,
                }
            ]
        },
    },
    {
        "name": "Orders above amount (number param only)",
        "description": None,
        "query": "select id, customer, amount from orders where amount > {{ min_amount }} order by amount desc limit 20",  # noqa: E501 - literal text
        "options": {
            "parameters": [
                {
                    "name": "min_amount",
                    "type": "number",
                    "title": "Min amount",
                    "value": 400,
                    "global": False,
                    "locals": [],
                }
            ]
        },
    },
    {
        "name": "Temp query (renamed 2)",
        "description": "stale",
        "query": "select 42 as answer",
        "options": {},
        "tags": ["tmp", "crud"],
        "is_archived": True,
    },
]

_POSITION = {"autoHeight": False, "sizeX": 3, "sizeY": 8, "minSizeX": 1, "maxSizeX": 6, "minSizeY": 1, "maxSizeY": 1000}


def _mapping(name: str, kind: str, value: Any = None, title: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "mapTo": name, "value": value, "title": title}


#: Dashboard 1's widgets: (visualization id or None for text, col, row, sizeY, parameterMappings | text)
SALES_WIDGETS: list[tuple[int | None, int, int, int, Any]] = [
    (1, 0, 0, 8, {}),
    (5, 3, 0, 8, {}),
    (9, 0, 8, 8, {}),
    (None, 3, 8, 3, "## Notes (edited)\nSynthetic sample data."),
    (6, 0, 16, 8, {"region": _mapping("region", "dashboard-level")}),
    (
        2,
        3,
        16,
        8,
        {
            "region": _mapping("region", "dashboard-level"),
            "min_qty": _mapping("min_qty", "static-value", 3),
            "since": _mapping("since", "widget-level"),
            "period": _mapping("period", "dashboard-level", title="Reporting period"),
            "cust": _mapping("cust", "widget-level"),
        },
    ),
]


def widget_options(col: int, row: int, size_y: int, mappings: dict[str, Any] | None) -> dict[str, Any]:
    """:return: widget options with a position (and parameterMappings unless None)."""
    options: dict[str, Any] = {"isHidden": False, "position": {**_POSITION, "sizeY": size_y, "col": col, "row": row}}
    if mappings is not None:
        options["parameterMappings"] = mappings
    return options
