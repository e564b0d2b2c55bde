"""SQL that does not parse is reported with the parser's message and position, never raised or skipped."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dash.sql import extract_tables


def test_syntax_error_is_reported_with_line_and_column() -> None:
    sql = "SELECT id\nFROM orders\nWHERE (status = 'paid'"
    result = extract_tables(sql)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("Expecting )")
    assert (result.error_line, result.error_column) == (3, len("WHERE (status = ") + 1)
    assert "line 3, column 17" in result.error


def test_unterminated_string_is_reported_where_it_starts() -> None:
    result = extract_tables("SELECT *\nFROM t\nWHERE name = 'abc")
    assert not result.ok
    assert (result.error_line, result.error_column) == (3, len("WHERE name = ") + 1)


def test_unterminated_comment_is_reported_where_it_starts() -> None:
    result = extract_tables("SELECT * FROM t /* not closed")
    assert result.error is not None
    assert result.error.startswith("Unterminated /* comment")
    assert (result.error_line, result.error_column) == (1, len("SELECT * FROM t ") + 1)


def test_statement_that_does_not_parse_leaves_the_other_statements_read() -> None:
    result = extract_tables("SELECT * FROM a;\nSELECT * FROM (b;\nSELECT * FROM c")
    assert not result.ok
    assert result.error_line == 2
    assert [t.qualified for t in result.reads] == ["a", "c"]


def test_first_of_several_errors_is_the_one_reported() -> None:
    result = extract_tables("SELECT (1;\nSELECT (2")
    assert result.error_line == 1


def test_lone_expression_is_not_taken_for_a_statement() -> None:
    # sqlglot alone would read this as the expression `SELEC * FRM AS orders` and find no table.
    result = extract_tables("SELECT * FROM a; SELEC * FRM orders")
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("Not a SQL statement")
    assert (result.error_line, result.error_column) == (1, len("SELECT * FROM a; ") + 1)


def test_statement_kept_as_opaque_command_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="sqlglot"):
        result = extract_tables("EXPLAIN SELECT * FROM hidden; SELECT * FROM shown", "postgres")
    assert result.ok
    assert [t.qualified for t in result.reads] == ["shown"]
    assert len(result.warnings) == 1
    assert "EXPLAIN SELECT * FROM hidden" in result.warnings[0]


@pytest.mark.parametrize("sql", [None, b"SELECT 1", 42])
def test_sql_that_is_not_a_string_is_a_type_error(sql: object) -> None:
    with pytest.raises(TypeError, match="sql must be a str"):
        extract_tables(sql)  # type: ignore[arg-type]


def test_dialect_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="dialect must be a str or None"):
        extract_tables("SELECT 1", 3)  # type: ignore[arg-type]


def test_unknown_dialect_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no_such_dialect"):
        extract_tables("SELECT 1", "no_such_dialect")


_FRAGMENTS = st.sampled_from(
    [
        "SELECT", "*", "FROM", "t", "s.t", "JOIN", "ON", "1", "=", "(", ")", ",", ";", "WITH", "x", "AS",
        "WHERE", "IN", "'", '"', "`", "[", "]", "/*", "*/", "--", "\n", "{{", "}}", "{{ p }}", "{{#s}}",
        "UNION", "INSERT", "INTO", "VALUES", "UNNEST", "RECURSIVE", "TOP", "LIMIT", "#tmp", "@stage", "$1",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(_FRAGMENTS, max_size=30).map(" ".join)))
def test_any_text_is_reported_never_raised(sql: str) -> None:
    for dialect in (None, "tsql", "bigquery"):
        result = extract_tables(sql, dialect)
        assert result.ok == (result.error is None)
        if result.error_line is not None:
            assert 1 <= result.error_line <= sql.count("\n") + 1
