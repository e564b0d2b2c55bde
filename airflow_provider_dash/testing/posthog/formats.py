"""The three timestamp spellings PostHog's answers use (REFERENCE.md §2.2, §2.6, §2.9)."""

from __future__ import annotations

import datetime as dt


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def iso_z(moment: dt.datetime) -> str:
    """:return: ``2026-05-01T10:00:02.123Z`` (query results: ``last_refresh`` and friends)."""
    moment = _utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_drf(moment: dt.datetime) -> str:
    """:return: ``2026-05-01T10:00:00.123456Z`` (DRF serializer fields: ``created_at``...)."""
    return _utc(moment).isoformat().replace("+00:00", "Z")


def iso_hog(moment: dt.datetime) -> str:
    """:return: ``2026-04-20T08:00:00+00:00`` (values the view formats itself: ``endpoint_version_created_at``)."""
    return _utc(moment).isoformat()
