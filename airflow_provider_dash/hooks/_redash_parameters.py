"""Filling a query's saved parameter defaults and checking values, before anything is sent.

Redash's API applies no defaults: every parameter must be sent. :func:`resolve_parameters` fills each
parameter the caller did not give from the query's saved default, turns Redash's dynamic values
(``d_yesterday``, ``d_last_7_days``, ...) into concrete dates the way Redash's web client does, and
checks every value against its definition, so a bad value fails in the DAG with a clear message
instead of as a terse HTTP 400 from the server.

Dynamic dates follow Redash's frontend (moment.js with its default ``en`` locale):

* a week starts on **Sunday** (moment's ``startOf("week")`` in the ``en`` locale), so ``d_this_week``
  runs Sunday..Saturday; this keeps the values identical to what the Redash UI sends;
* ``d_last_N_days`` and ``d_last_12_months`` run from the start of the day N days (12 months) ago to
  the end of today; ``d_last_hour``/``d_last_8_hours``/``d_last_24_hours`` end now;
* "now" is ``datetime.now()`` (the worker's local wall clock, like the browser's in the UI) unless
  the caller passes ``now``; an aware ``now`` is used with its own wall clock.
"""

from __future__ import annotations

import calendar
import numbers
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from airflow_provider_dash.exceptions import DashParameterError
from airflow_provider_dash.models import Parameter, ParameterType, Query

DYNAMIC_PREFIX = "d_"
#: Python weekday (Monday = 0) a week starts on: Sunday, as moment's default ``en`` locale.
WEEK_START = 6

_FORMATS = {
    ParameterType.DATE: "%Y-%m-%d",
    ParameterType.DATETIME_LOCAL: "%Y-%m-%d %H:%M",
    ParameterType.DATETIME_WITH_SECONDS: "%Y-%m-%d %H:%M:%S",
    ParameterType.DATE_RANGE: "%Y-%m-%d",
    ParameterType.DATETIME_RANGE: "%Y-%m-%d %H:%M",
    ParameterType.DATETIME_RANGE_WITH_SECONDS: "%Y-%m-%d %H:%M:%S",
}
_SHOWN_FORMATS = {
    "%Y-%m-%d": "YYYY-MM-DD",
    "%Y-%m-%d %H:%M": "YYYY-MM-DD HH:mm",
    "%Y-%m-%d %H:%M:%S": "YYYY-MM-DD HH:mm:ss",
}


def _start_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time.min, tzinfo=moment.tzinfo)


def _end_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(23, 59, 59, 999999), tzinfo=moment.tzinfo)


def _add_months(moment: datetime, months: int) -> datetime:
    # Like moment's add/subtract(n, "months"): the day is clamped to the target month's length.
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _week(moment: datetime) -> tuple[datetime, datetime]:
    start = _start_of_day(moment - timedelta(days=(moment.weekday() - WEEK_START) % 7))
    return start, _end_of_day(start + timedelta(days=6))


def _month(moment: datetime) -> tuple[datetime, datetime]:
    last = calendar.monthrange(moment.year, moment.month)[1]
    return _start_of_day(moment.replace(day=1)), _end_of_day(moment.replace(day=last))


def _year(moment: datetime) -> tuple[datetime, datetime]:
    return _start_of_day(moment.replace(month=1, day=1)), _end_of_day(moment.replace(month=12, day=31))


def _days(n: int) -> Any:
    return lambda now: (_start_of_day(now - timedelta(days=n)), _end_of_day(now))


def _hours(n: int) -> Any:
    return lambda now: (now - timedelta(hours=n), now)


#: Redash's dynamic single dates (``d_today`` is accepted as an alias of ``d_now``).
DYNAMIC_DATES: dict[str, Any] = {
    "d_now": lambda now: now,
    "d_today": lambda now: now,
    "d_yesterday": lambda now: now - timedelta(days=1),
}

#: Redash's dynamic ranges, each a function of "now" giving ``(start, end)``.
DYNAMIC_RANGES: dict[str, Any] = {
    "d_today": lambda now: (_start_of_day(now), _end_of_day(now)),
    "d_yesterday": lambda now: (_start_of_day(now - timedelta(days=1)), _end_of_day(now - timedelta(days=1))),
    "d_this_week": _week,
    "d_this_month": _month,
    "d_this_year": _year,
    "d_last_week": lambda now: _week(now - timedelta(weeks=1)),
    "d_last_month": lambda now: _month(_add_months(now, -1)),
    "d_last_year": lambda now: _year(_add_months(now, -12)),
    "d_last_hour": _hours(1),
    "d_last_8_hours": _hours(8),
    "d_last_24_hours": _hours(24),
    "d_last_7_days": _days(7),
    "d_last_14_days": _days(14),
    "d_last_30_days": _days(30),
    "d_last_60_days": _days(60),
    "d_last_90_days": _days(90),
    "d_last_12_months": lambda now: (_start_of_day(_add_months(now, -12)), _end_of_day(now)),
}


def _error(query: Query, param: Parameter, problem: str) -> DashParameterError:
    return DashParameterError(
        f"Query {query.id} parameter {param.name!r} ({param.type.value}): {problem}",
        query_id=query.id,
        parameter=param.name,
    )


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _render_date(query: Query, param: Parameter, value: Any, now: datetime, *, part: str = "") -> str:
    fmt = _FORMATS[param.type]
    shown = _SHOWN_FORMATS[fmt]
    label = f" {part}" if part else ""
    if isinstance(value, datetime):
        return value.strftime(fmt)
    if isinstance(value, date):
        return datetime.combine(value, time.min).strftime(fmt)
    if isinstance(value, str):
        if not part and value in DYNAMIC_DATES:
            return DYNAMIC_DATES[value](now).strftime(fmt)
        if _parse_datetime(value) is not None:
            # Keep the caller's text: the server accepts any date it can parse, and changing it
            # would change the query hash that Redash's result cache is keyed on.
            return value
        hint = f" or one of {', '.join(sorted(DYNAMIC_DATES))}" if not part else ""
        raise _error(query, param, f"{value!r}{label} is not a date; expected the format {shown}{hint}")
    raise _error(query, param, f"{value!r}{label} is not a date; expected a date, a datetime or text as {shown}")


def _render_range(query: Query, param: Parameter, value: Any, now: datetime) -> dict[str, str]:
    fmt = _FORMATS[param.type]
    shown = _SHOWN_FORMATS[fmt]
    if isinstance(value, str):
        if value in DYNAMIC_RANGES:
            start, end = DYNAMIC_RANGES[value](now)
            return {"start": start.strftime(fmt), "end": end.strftime(fmt)}
        raise _error(
            query,
            param,
            f'{value!r} is not a range; expected {{"start": ..., "end": ...}} with dates as {shown}, '
            f"or one of {', '.join(DYNAMIC_RANGES)}",
        )
    if isinstance(value, Mapping):
        if "start" not in value or "end" not in value:
            raise _error(query, param, f'{value!r} needs both "start" and "end" (dates as {shown})')
        start_value, end_value = value["start"], value["end"]
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == 2:
        start_value, end_value = value
    else:
        raise _error(
            query, param, f'{value!r} is not a range; expected {{"start": ..., "end": ...}} with dates as {shown}'
        )
    return {
        "start": _render_date(query, param, start_value, now, part="start"),
        "end": _render_date(query, param, end_value, now, part="end"),
    }


def _check_options(query: Query, param: Parameter, value: Any, options: Sequence[str] | None) -> Any:
    multi = param.multi_values is not None
    if isinstance(value, (list, tuple)):
        if not multi:
            raise _error(query, param, f"{list(value)!r} is a list, but this parameter takes one value")
        values = list(value)
    else:
        values = [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (str, numbers.Number)):
            raise _error(query, param, f"{item!r} is not text or a number")
        if options is not None and str(item) not in options:
            raise _error(query, param, f"{item!r} is not allowed; allowed values: {', '.join(options)}")
    return list(value) if isinstance(value, (list, tuple)) else value


def _check_value(query: Query, param: Parameter, value: Any, now: datetime) -> Any:
    ptype = param.type
    if ptype is ParameterType.NUMBER:
        if isinstance(value, bool):
            raise _error(query, param, f"{value!r} is not a number")
        if isinstance(value, numbers.Number):
            return value
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                pass
            else:
                return value
        raise _error(query, param, f"{value!r} is not a number; expected e.g. 42 or 1.5")
    if ptype is ParameterType.TEXT:
        if not isinstance(value, str):
            raise _error(query, param, f"{value!r} is not text; expected a string")
        return value
    if ptype is ParameterType.ENUM:
        return _check_options(query, param, value, param.enum_options)
    if ptype is ParameterType.QUERY:
        # The allowed values come from another query's result: the server checks them.
        return _check_options(query, param, value, None)
    if ptype.is_range:
        return _render_range(query, param, value, now)
    return _render_date(query, param, value, now)


def resolve_parameters(query: Query, given: Mapping[str, Any] | None, *, now: datetime | None = None) -> dict[str, Any]:
    """Every parameter value to send for ``query``: the caller's, else the saved default, all checked.

    Dynamic defaults and values (``d_now``, ``d_yesterday``, ``d_last_7_days``, ...) become concrete
    dates; ``date``/``datetime`` objects are rendered in the parameter's format.

    :param query: the saved query, with its parameter definitions.
    :param given: the caller's values by parameter name (may be ``None``).
    :param now: the moment dynamic dates are computed from (default: ``datetime.now()``).
    :return: a value for every parameter the query defines, ready to send.
    :raises DashParameterError: for an unknown name, a value that does not fit its definition, or a
        parameter with neither a value nor a saved default. The text names the query, the parameter
        and the allowed values or the expected format.
    """
    given = dict(given or {})
    known = [p.name for p in query.parameters]
    for name in given:
        if name not in known:
            listed = ", ".join(known) if known else "none"
            raise DashParameterError(
                f"Query {query.id} has no parameter {name!r}; its parameters are: {listed}",
                query_id=query.id,
                parameter=name,
            )
    moment = datetime.now() if now is None else now
    resolved: dict[str, Any] = {}
    for param in query.parameters:
        value = given.get(param.name, param.value)
        if value is None or (value == "" and param.type is not ParameterType.TEXT):
            raise DashParameterError(
                f"query {query.id} needs a value for parameter {param.name} (type {param.type.value}): "
                "it has no saved default",
                query_id=query.id,
                parameter=param.name,
            )
        resolved[param.name] = _check_value(query, param, value, moment)
    return resolved
