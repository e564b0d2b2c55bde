"""Helpers for the SQL table extractor's tests."""

from __future__ import annotations

from airflow_provider_dash.sql import TableExtraction, extract_tables


def reads(sql: str, dialect: str | None = None) -> list[str]:
    """The qualified names of the tables ``sql`` reads; fails the test if it did not parse."""
    return [table.qualified for table in parsed(sql, dialect).reads]


def writes(sql: str, dialect: str | None = None) -> list[str]:
    """The qualified names of the tables ``sql`` writes; fails the test if it did not parse."""
    return [table.qualified for table in parsed(sql, dialect).writes]


def parsed(sql: str, dialect: str | None = None) -> TableExtraction:
    """``extract_tables``, asserting that every statement parsed."""
    result = extract_tables(sql, dialect)
    assert result.ok, result.error
    return result
