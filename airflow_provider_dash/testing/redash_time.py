"""Timestamps as the Redash emulator writes them: naive UTC, ISO 8601 with milliseconds."""

from __future__ import annotations

import datetime as dt


def iso_ms(moment: dt.datetime, zulu: bool = True) -> str:
    """:return: ``moment`` as ISO 8601 with milliseconds (and ``Z`` when ``zulu``)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return text + "Z" if zulu else text


def utcnow() -> dt.datetime:
    """:return: the current UTC time without tzinfo."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
