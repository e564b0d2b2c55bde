"""resolve_parameters: saved defaults, dynamic dates, and value checks for every parameter type."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashParameterError
from airflow_provider_dash.models import Query
from airflow_provider_dash.parameters import DYNAMIC_DATES, DYNAMIC_RANGES, resolve_parameters

# Wednesday 2024-03-13 15:45:30
NOW = dt.datetime(2024, 3, 13, 15, 45, 30)


def make_query(*definitions: dict[str, Any], query_id: int = 7) -> Query:
    return Query.from_json(
        {"id": query_id, "name": "q", "query": "select 1", "options": {"parameters": list(definitions)}}
    )


def param(name: str, ptype: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": ptype, "title": name, "value": value, **extra}


def resolve_one(ptype: str, value: Any, **extra: Any) -> Any:
    return resolve_parameters(make_query(param("p", ptype, **extra)), {"p": value}, now=NOW)["p"]


def test_saved_defaults_fill_every_parameter_not_given() -> None:
    query = make_query(param("a", "number", 1), param("b", "text", "x"), param("c", "date", "2024-01-15"))
    assert resolve_parameters(query, {"a": 5}, now=NOW) == {"a": 5, "b": "x", "c": "2024-01-15"}


def test_query_without_parameters_resolves_to_empty() -> None:
    assert resolve_parameters(make_query(), None, now=NOW) == {}


def test_unknown_name_names_query_parameter_and_known_names() -> None:
    query = make_query(param("min_qty", "number", 1), param("region", "text", "n"))
    with pytest.raises(DashParameterError) as caught:
        resolve_parameters(query, {"nope": 1}, now=NOW)
    text = str(caught.value)
    assert "7" in text
    assert "'nope'" in text
    assert "min_qty, region" in text
    assert caught.value.query_id == 7
    assert caught.value.parameter == "nope"


def test_missing_value_without_default_names_type() -> None:
    with pytest.raises(DashParameterError, match=r"query 7 needs a value for parameter since \(type date\)"):
        resolve_parameters(make_query(param("since", "date")), {}, now=NOW)


@pytest.mark.parametrize("value", [3, 2.5, "3", "1e2", "-4.5"])
def test_number_accepts_numbers_and_numeric_text(value: Any) -> None:
    assert resolve_one("number", value) == value


@pytest.mark.parametrize("value", ["abc", True, [1], {"a": 1}])
def test_number_rejects_non_numbers(value: Any) -> None:
    with pytest.raises(DashParameterError, match=r"Query 7 parameter 'p' \(number\): .* is not a number"):
        resolve_one("number", value)


def test_text_accepts_strings_only() -> None:
    assert resolve_one("text", "abc") == "abc"
    assert resolve_one("text", "") == ""
    with pytest.raises(DashParameterError, match="expected a string"):
        resolve_one("text", 5)


def test_enum_accepts_listed_value_and_rejects_others_listing_allowed() -> None:
    options = {"enumOptions": "north\nsouth\neast"}
    assert resolve_one("enum", "south", **options) == "south"
    with pytest.raises(DashParameterError, match="allowed values: north, south, east"):
        resolve_one("enum", "west", **options)


def test_enum_list_only_when_multi_values_set() -> None:
    options = {"enumOptions": "north\nsouth\neast"}
    with pytest.raises(DashParameterError, match="takes one value"):
        resolve_one("enum", ["north"], **options)
    multi = {**options, "multiValuesOptions": {"prefix": "'", "suffix": "'", "separator": ","}}
    assert resolve_one("enum", ["north", "east"], **multi) == ["north", "east"]
    with pytest.raises(DashParameterError, match="allowed values"):
        resolve_one("enum", ["north", "west"], **multi)


def test_query_dropdown_accepts_any_text_or_number() -> None:
    assert resolve_one("query", "anything", queryId=3) == "anything"
    assert resolve_one("query", 12, queryId=3) == 12
    with pytest.raises(DashParameterError):
        resolve_one("query", {"x": 1}, queryId=3)


@pytest.mark.parametrize(
    ("ptype", "given", "expected"),
    [
        ("date", dt.date(2024, 1, 2), "2024-01-02"),
        ("date", dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02"),
        ("datetime-local", dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04"),
        ("datetime-local", dt.date(2024, 1, 2), "2024-01-02 00:00"),
        ("datetime-with-seconds", dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        ("date", "2024-01-10", "2024-01-10"),
        ("datetime-local", "2024-01-10 08:30", "2024-01-10 08:30"),
    ],
)
def test_date_types_render_objects_and_keep_valid_text(ptype: str, given: Any, expected: str) -> None:
    assert resolve_one(ptype, given) == expected


@pytest.mark.parametrize(
    ("ptype", "fmt"),
    [("date", "YYYY-MM-DD"), ("datetime-local", "YYYY-MM-DD HH:mm"), ("datetime-with-seconds", "YYYY-MM-DD HH:mm:ss")],
)
def test_bad_date_names_expected_format(ptype: str, fmt: str) -> None:
    with pytest.raises(DashParameterError, match=f"expected the format {fmt}"):
        resolve_one(ptype, "not-a-date")


@pytest.mark.parametrize(
    ("ptype", "value", "expected"),
    [
        ("date", "d_now", "2024-03-13"),
        ("date", "d_today", "2024-03-13"),
        ("date", "d_yesterday", "2024-03-12"),
        ("datetime-local", "d_now", "2024-03-13 15:45"),
        ("datetime-with-seconds", "d_yesterday", "2024-03-12 15:45:30"),
    ],
)
def test_dynamic_single_dates(ptype: str, value: str, expected: str) -> None:
    assert resolve_one(ptype, value) == expected


def test_dynamic_default_is_used_when_not_given() -> None:
    query = make_query(param("since", "date", "d_yesterday"))
    assert resolve_parameters(query, None, now=NOW) == {"since": "2024-03-12"}


# NOW is Wednesday 2024-03-13; Redash's week (moment "en" locale) starts on Sunday.
DATE_RANGES = {
    "d_today": ("2024-03-13", "2024-03-13"),
    "d_yesterday": ("2024-03-12", "2024-03-12"),
    "d_this_week": ("2024-03-10", "2024-03-16"),
    "d_this_month": ("2024-03-01", "2024-03-31"),
    "d_this_year": ("2024-01-01", "2024-12-31"),
    "d_last_week": ("2024-03-03", "2024-03-09"),
    "d_last_month": ("2024-02-01", "2024-02-29"),
    "d_last_year": ("2023-01-01", "2023-12-31"),
    "d_last_7_days": ("2024-03-06", "2024-03-13"),
    "d_last_14_days": ("2024-02-28", "2024-03-13"),
    "d_last_30_days": ("2024-02-12", "2024-03-13"),
    "d_last_60_days": ("2024-01-13", "2024-03-13"),
    "d_last_90_days": ("2023-12-14", "2024-03-13"),
    "d_last_12_months": ("2023-03-13", "2024-03-13"),
    "d_last_hour": ("2024-03-13", "2024-03-13"),
    "d_last_8_hours": ("2024-03-13", "2024-03-13"),
    "d_last_24_hours": ("2024-03-12", "2024-03-13"),
}


def test_every_dynamic_range_is_covered() -> None:
    assert set(DATE_RANGES) == set(DYNAMIC_RANGES)
    assert {"d_now", "d_today", "d_yesterday"} == set(DYNAMIC_DATES)


@pytest.mark.parametrize(("value", "expected"), sorted(DATE_RANGES.items()))
def test_dynamic_date_ranges(value: str, expected: tuple[str, str]) -> None:
    assert resolve_one("date-range", value) == {"start": expected[0], "end": expected[1]}


@pytest.mark.parametrize(
    ("ptype", "value", "expected"),
    [
        ("datetime-range", "d_this_week", {"start": "2024-03-10 00:00", "end": "2024-03-16 23:59"}),
        ("datetime-range-with-seconds", "d_today", {"start": "2024-03-13 00:00:00", "end": "2024-03-13 23:59:59"}),
        ("datetime-range", "d_last_hour", {"start": "2024-03-13 14:45", "end": "2024-03-13 15:45"}),
        (
            "datetime-range-with-seconds",
            "d_last_7_days",
            {"start": "2024-03-06 00:00:00", "end": "2024-03-13 23:59:59"},
        ),
    ],
)
def test_dynamic_datetime_ranges(ptype: str, value: str, expected: dict[str, str]) -> None:
    assert resolve_one(ptype, value) == expected


def test_week_starting_sunday_on_a_sunday() -> None:
    sunday = dt.datetime(2024, 3, 10, 9, 0)
    query = make_query(param("p", "date-range", "d_this_week"))
    assert resolve_parameters(query, None, now=sunday)["p"] == {"start": "2024-03-10", "end": "2024-03-16"}


def test_last_month_from_march_31_clamps_like_moment() -> None:
    query = make_query(param("p", "date-range", "d_last_month"))
    assert resolve_parameters(query, None, now=dt.datetime(2024, 3, 31))["p"] == {
        "start": "2024-02-01",
        "end": "2024-02-29",
    }


def test_range_accepts_objects_dicts_and_pairs() -> None:
    assert resolve_one("date-range", {"start": dt.date(2024, 1, 1), "end": "2024-02-01"}) == {
        "start": "2024-01-01",
        "end": "2024-02-01",
    }
    assert resolve_one("datetime-range", (dt.datetime(2024, 1, 1, 5, 6), dt.datetime(2024, 1, 2))) == {
        "start": "2024-01-01 05:06",
        "end": "2024-01-02 00:00",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-01-01", "is not a range"),
        ({"start": "2024-01-01"}, 'needs both "start" and "end"'),
        ({"start": "2024-01-01", "end": "soon"}, "'soon' end is not a date; expected the format YYYY-MM-DD"),
        (5, "is not a range"),
    ],
)
def test_bad_ranges_are_rejected_with_expected_format(value: Any, message: str) -> None:
    with pytest.raises(DashParameterError, match=message) as caught:
        resolve_one("date-range", value)
    assert "Query 7 parameter 'p'" in str(caught.value)


def test_now_defaults_to_the_current_time() -> None:
    before = dt.date.today().isoformat()
    value = resolve_parameters(make_query(param("p", "date", "d_now")), None)["p"]
    assert value in {before, dt.date.today().isoformat()}
