"""Property: what resolve_parameters produces for valid definitions, the server accepts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.parameters import DYNAMIC_DATES, DYNAMIC_RANGES, resolve_parameters

from .conftest import HookFactory

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
OPTIONS = st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=4, unique=True)
DATES = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))
DATETIMES = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 12, 31))
DATE_TYPES = ["date", "datetime-local", "datetime-with-seconds"]
RANGE_TYPES = ["date-range", "datetime-range", "datetime-range-with-seconds"]


@st.composite
def definition(draw: st.DrawFn, name: str) -> tuple[dict[str, Any], Any]:
    """A parameter definition with a valid saved default, and a valid caller value (or None)."""
    kind = draw(st.sampled_from(["number", "text", "enum", *DATE_TYPES, *RANGE_TYPES]))
    base: dict[str, Any] = {"name": name, "title": name, "type": kind}
    if kind == "number":
        values = st.one_of(
            st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3))
        )
    elif kind == "text":
        values = st.text(alphabet="abcxyz_ ", max_size=10)
    elif kind == "enum":
        options = draw(OPTIONS)
        base["enumOptions"] = "\n".join(options)
        values = st.sampled_from(options)
    elif kind in DATE_TYPES:
        values = st.one_of(DATES, DATETIMES, st.sampled_from(sorted(DYNAMIC_DATES)))
    else:
        values = st.one_of(
            st.sampled_from(sorted(DYNAMIC_RANGES)),
            st.tuples(DATES, DATES).map(lambda p: {"start": min(p), "end": max(p)}),
            st.tuples(DATETIMES, DATETIMES).map(lambda p: (min(p), max(p))),
        )
    default = draw(values)
    if kind in DATE_TYPES or kind in RANGE_TYPES:
        # A saved default is stored as text or a dynamic name, as Redash's UI stores it.
        default = draw(st.sampled_from(sorted(DYNAMIC_DATES if kind in DATE_TYPES else DYNAMIC_RANGES)))
    base["value"] = default
    return base, draw(st.one_of(st.none(), values))


@st.composite
def definitions(draw: st.DrawFn) -> list[tuple[dict[str, Any], Any]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    return [draw(definition(name)) for name in names]


def _sql(defs: list[dict[str, Any]]) -> str:
    columns = []
    for d in defs:
        if d["type"] in RANGE_TYPES:
            columns.append(
                f"'{{{{ {d['name']}.start }}}}' as {d['name']}_start, '{{{{ {d['name']}.end }}}}' as {d['name']}_end"
            )
        elif d["type"] == "number":
            columns.append(f"{{{{ {d['name']} }}}} as {d['name']}")
        else:
            columns.append(f"'{{{{ {d['name']} }}}}' as {d['name']}")
    return "select " + ", ".join(columns)


def test_resolved_values_are_accepted_by_the_server(make_hook: HookFactory) -> None:
    hook: DashHook = make_hook(retries=0)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(definitions())
    def check(defs_and_values: list[tuple[dict[str, Any], Any]]) -> None:
        defs = [d for d, _ in defs_and_values]
        query = hook.create_query(name="generated", query=_sql(defs), data_source_id=1, options={"parameters": defs})
        given_values = {d["name"]: v for d, v in defs_and_values if v is not None}
        values = resolve_parameters(query, given_values)
        assert set(values) == {d["name"] for d in defs}
        run = hook.execute_query(query.id, values, check_parameters=False)
        assert run.job is not None or run.result is not None

    check()
