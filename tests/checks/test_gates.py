"""The data-quality gates against the emulator: each check with passing and failing data, NULLs,
empty results, wrong types and tolerance edges; soft_fail; the worker and deferred paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSkipException
from dag_helpers import make_context, run_inline

from airflow_provider_dash.exceptions import DashCheckFailedError, DashConfigError
from airflow_provider_dash.operators.checks import (
    QueryCheckOperator,
    QueryThresholdCheckOperator,
    QueryValueCheckOperator,
)
from airflow_provider_dash.operators.dash import RefreshDashboardOperator

MODES = [pytest.param(False, id="worker"), pytest.param(True, id="deferrable")]
EMPTY = "SELECT 1 AS a WHERE 0"


def _run(operator: Any) -> Any:
    return run_inline(operator, make_context())


def _fails(operator: Any, *texts: str) -> DashCheckFailedError:
    with pytest.raises(DashCheckFailedError) as raised:
        _run(operator)
    for text in texts:
        assert text in str(raised.value), str(raised.value)
    return raised.value


# --------------------------------------------------------------------------- QueryCheckOperator


def test_first_row_all_truthy_passes_and_returns_the_result_id(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any
) -> None:
    query_id = sql_query("SELECT 1 AS a, 'yes' AS b, 2.5 AS c")
    context = make_context()

    result_id = run_inline(QueryCheckOperator(task_id="gate", query_id=query_id, dash_conn_id=dash_conn_id), context)

    assert isinstance(result_id, int)
    assert context["ti"].xcoms["query_result_id"] == result_id


@pytest.mark.parametrize(
    ("sql", "text"),
    [
        pytest.param("SELECT 1 AS a, 0 AS b", "false values (b=0)", id="zero"),
        pytest.param("SELECT 1 AS a, NULL AS b", "false values (b=NULL)", id="null"),
        pytest.param("SELECT 'false' AS a, '' AS b", "false values (a='false', b='')", id="false-texts"),
        pytest.param(EMPTY, "the query returned no rows", id="empty"),
    ],
)
def test_first_row_check_fails_naming_the_row_query_and_page(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, sql: str, text: str
) -> None:
    query_id = sql_query(sql, name="orders loaded today")
    error = _fails(
        QueryCheckOperator(task_id="gate", query_id=query_id, dash_conn_id=dash_conn_id),
        text,
        f"query {query_id} 'orders loaded today' ({dash_emulator.url}/queries/{query_id})",
    )
    assert error.query_id == query_id


def test_only_the_first_row_counts(dash_emulator: Any, dash_conn_id: str, sql_query: Any) -> None:
    query_id = sql_query("SELECT 1 AS a UNION ALL SELECT 0")
    assert isinstance(_run(QueryCheckOperator(task_id="gate", query_id=query_id, dash_conn_id=dash_conn_id)), int)


@pytest.mark.parametrize(
    ("bounds", "passes"),
    [
        ({"min_rows": 3}, True),
        ({"min_rows": 4}, False),
        ({"max_rows": 3}, True),
        ({"max_rows": 2}, False),
        ({"min_rows": 3, "max_rows": 3}, True),
    ],
)
def test_row_count_bounds(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, bounds: dict[str, int], passes: bool
) -> None:
    # A zero in the first row: with row bounds the first-row rule is off by default.
    query_id = sql_query("SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2")
    operator = QueryCheckOperator(task_id="gate", query_id=query_id, dash_conn_id=dash_conn_id, **bounds)
    if passes:
        assert isinstance(_run(operator), int)
    else:
        _fails(operator, "the query returned 3 rows")


def test_min_rows_fails_on_an_empty_result(dash_emulator: Any, dash_conn_id: str, sql_query: Any) -> None:
    operator = QueryCheckOperator(task_id="gate", query_id=sql_query(EMPTY), min_rows=1, dash_conn_id=dash_conn_id)
    _fails(operator, "returned 0 rows, fewer than min_rows=1")


@pytest.fixture
def customers(dash_emulator: Any, sql_query: Any) -> int:
    """A query over rows with a negative amount, a text amount, NULL and duplicate emails."""
    dash_emulator.add_table(
        "customers",
        [("id", "INTEGER"), ("email", "TEXT"), ("amount", ""), ("region", "TEXT")],
        [
            (1, "a@x.io", 10, "north"),
            (2, "b@x.io", -5, "south"),
            (3, None, "abc", "north"),
            (4, "a@x.io", 7.5, "mars"),
            (5, "e@x.io", None, "east"),
        ],
    )
    return int(sql_query("SELECT id, email, amount, region FROM customers ORDER BY id", name="customers"))


def test_column_checks_that_hold_pass(dash_emulator: Any, dash_conn_id: str, customers: int) -> None:
    operator = QueryCheckOperator(
        task_id="gate",
        query_id=customers,
        column_checks={
            "id": {"min": 1, "max": 5, "unique": True, "null_count": 0, "distinct_count": 5},
            "region": {"min": "east", "max": "south", "distinct_count": 4},
            "email": {"null_count": 1},
        },
        dash_conn_id=dash_conn_id,
    )
    assert isinstance(_run(operator), int)


def test_column_checks_report_every_failure_with_the_offending_row(
    dash_emulator: Any, dash_conn_id: str, customers: int
) -> None:
    operator = QueryCheckOperator(
        task_id="gate",
        query_id=customers,
        column_checks={
            "amount": {"min": 0, "null_count": 0},
            "email": {"null_count": 0, "unique": True},
            "region": {"in": ["north", "south", "east", "west"]},
            "missing": {"null_count": 0},
        },
        dash_conn_id=dash_conn_id,
    )
    error = _fails(operator, "customers")
    failures = "\n".join(error.failures)
    assert len(error.failures) == 7, failures
    assert "column 'amount' min=0: 1 of 5 rows are not a number; first at row 3: 'abc'" in failures
    assert "column 'amount' min=0: 1 of 5 rows are below 0; first at row 2: -5" in failures
    assert '"email": "b@x.io"' in failures  # the offending row is shown
    assert "column 'amount' null_count=0: found 1 NULL; first at row 5" in failures
    assert "column 'email' null_count=0: found 1 NULL; first at row 3" in failures
    assert "column 'email' unique=True: 1 of 5 rows repeat an earlier value; first at row 4: 'a@x.io'" in failures
    assert "first seen at row 1" in failures
    assert "column 'region' in=['north', 'south', 'east', 'west']: 1 of 5 rows have another value" in failures
    assert "column 'missing' is not in the result (columns: id, email, amount, region)" in failures


@pytest.mark.parametrize(
    ("checks", "text"),
    [
        ({"id": {"max": 4}}, "1 of 5 rows are above 4; first at row 5: 5"),
        ({"id": {"equal_to": 1}}, "4 of 5 rows differ from 1; first at row 2: 2"),
        ({"region": {"distinct_count": 3}}, "found 4 distinct non-NULL values"),
        ({"region": {"min": 1}}, "5 of 5 rows are not a number"),
    ],
)
def test_single_column_check_failures(
    dash_emulator: Any, dash_conn_id: str, customers: int, checks: dict[str, Any], text: str
) -> None:
    operator = QueryCheckOperator(task_id="gate", query_id=customers, column_checks=checks, dash_conn_id=dash_conn_id)
    _fails(operator, text)


def test_column_checks_hold_on_an_empty_result_unless_rows_are_required(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any
) -> None:
    query_id = sql_query(EMPTY)
    checks = {"a": {"min": 0, "null_count": 0}}
    assert isinstance(
        _run(QueryCheckOperator(task_id="g", query_id=query_id, column_checks=checks, dash_conn_id=dash_conn_id)), int
    )
    _fails(
        QueryCheckOperator(task_id="g", query_id=query_id, column_checks=checks, min_rows=1, dash_conn_id=dash_conn_id),
        "fewer than min_rows=1",
    )


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"column_checks": {"a": {"minimum": 0}}}, "unknown check 'minimum'"),
        ({"column_checks": {"a": {"null_count": -1}}}, "null_count"),
        ({"column_checks": {"a": {"unique": "yes"}}}, "True or False"),
        ({"column_checks": {"a": {"in": "abc"}}}, "non-empty list"),
        ({"min_rows": 3, "max_rows": 2}, "greater than max_rows"),
        ({"wait_for_completion": False}, "wait_for_completion"),
    ],
)
def test_bad_check_arguments_fail_at_dag_parse(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(DashConfigError, match=text):
        QueryCheckOperator(task_id="gate", query_id=1, **kwargs)


# --------------------------------------------------------------------------- QueryValueCheckOperator


@pytest.mark.parametrize(
    ("value", "passes"),
    [
        pytest.param("90", True, id="lower-edge"),
        pytest.param("110", True, id="upper-edge"),
        pytest.param("100.0", True, id="exact"),
        pytest.param("89.99", False, id="below"),
        pytest.param("110.01", False, id="above"),
    ],
)
def test_value_check_tolerance_is_a_ratio_with_edges_included(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, value: str, passes: bool
) -> None:
    operator = QueryValueCheckOperator(
        task_id="gate",
        query_id=sql_query(f"SELECT {value} AS total"),
        pass_value=100,
        tolerance=0.1,
        dash_conn_id=dash_conn_id,
    )
    if passes:
        assert isinstance(_run(operator), int)
    else:
        _fails(operator, f"column 'total': {float(value)!r} is outside 100 ± 0.1 (90 .. 110)")


@pytest.mark.parametrize(
    ("sql", "pass_value", "text"),
    [
        pytest.param("SELECT 100 AS a, 100.0 AS b", 100, None, id="int-and-float"),
        pytest.param("SELECT 'ok' AS status", "ok", None, id="text"),
        pytest.param("SELECT '42' AS n", 42, None, id="numeric-text"),
        pytest.param("SELECT 3 AS a, 'x' AS b, NULL AS c", [3, "x", None], None, id="one-per-column"),
        pytest.param("SELECT 101 AS a", 100, "column 'a': 101, expected 100", id="exact-mismatch"),
        pytest.param("SELECT NULL AS a", 100, "column 'a': NULL, expected 100", id="null"),
        pytest.param("SELECT 'abc' AS a", 100, "column 'a': 'abc' is not a number (expected 100)", id="wrong-type"),
        pytest.param("SELECT 'no' AS a", "ok", "column 'a': 'no', expected 'ok'", id="text-mismatch"),
        pytest.param(EMPTY, 1, "the query returned no rows", id="empty"),
        pytest.param("SELECT 1 AS a", [1, 2], "expected 2 values, the first row has 1", id="wrong-width"),
    ],
)
def test_value_check(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, sql: str, pass_value: Any, text: str | None
) -> None:
    operator = QueryValueCheckOperator(
        task_id="gate", query_id=sql_query(sql), pass_value=pass_value, dash_conn_id=dash_conn_id
    )
    if text is None:
        assert isinstance(_run(operator), int)
    else:
        _fails(operator, text)


def test_value_check_with_zero_tolerance_is_exact(dash_emulator: Any, dash_conn_id: str, sql_query: Any) -> None:
    operator = QueryValueCheckOperator(
        task_id="gate", query_id=sql_query("SELECT 100.5 AS a"), pass_value=100, tolerance=0, dash_conn_id=dash_conn_id
    )
    _fails(operator, "100.5 is outside 100 ± 0")


def test_value_check_rejects_a_negative_tolerance() -> None:
    with pytest.raises(DashConfigError, match="tolerance"):
        QueryValueCheckOperator(task_id="gate", query_id=1, pass_value=1, tolerance=-0.1)


# --------------------------------------------------------------------------- QueryThresholdCheckOperator


@pytest.mark.parametrize(
    ("sql", "bounds", "text"),
    [
        pytest.param("SELECT 10 AS n, 'x' AS other", (10, 20), None, id="lower-edge"),
        pytest.param("SELECT 20.0 AS n", (10, 20), None, id="upper-edge"),
        pytest.param("SELECT 5 AS n", (None, 20), None, id="open-below"),
        pytest.param("SELECT 9.99 AS n", (10, 20), "column 'n': 9.99 is outside 10 .. 20", id="below"),
        pytest.param("SELECT 21 AS n", (None, 20), "column 'n': 21 is outside -inf .. 20", id="above"),
        pytest.param("SELECT NULL AS n", (10, 20), "column 'n': NULL is not a number", id="null"),
        pytest.param("SELECT 'many' AS n", (10, 20), "column 'n': 'many' is not a number", id="wrong-type"),
        pytest.param(EMPTY, (10, 20), "the query returned no rows", id="empty"),
    ],
)
def test_threshold_check(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, sql: str, bounds: tuple[Any, Any], text: str | None
) -> None:
    operator = QueryThresholdCheckOperator(
        task_id="gate",
        query_id=sql_query(sql),
        min_threshold=bounds[0],
        max_threshold=bounds[1],
        dash_conn_id=dash_conn_id,
    )
    if text is None:
        assert isinstance(_run(operator), int)
    else:
        _fails(operator, text)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "give min_threshold"),
        ({"min_threshold": 5, "max_threshold": 1}, "greater than"),
        ({"min_threshold": "x"}, "number"),
    ],
)
def test_bad_thresholds_fail_at_dag_parse(kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(DashConfigError, match=text):
        QueryThresholdCheckOperator(task_id="gate", query_id=1, **kwargs)


# --------------------------------------------------------------------------- soft_fail, modes, DAGs


@pytest.mark.parametrize(
    "operator_class",
    [
        lambda q, c: QueryCheckOperator(task_id="g", query_id=q, soft_fail=True, dash_conn_id=c),
        lambda q, c: QueryValueCheckOperator(task_id="g", query_id=q, pass_value=1, soft_fail=True, dash_conn_id=c),
        lambda q, c: QueryThresholdCheckOperator(
            task_id="g", query_id=q, min_threshold=1, soft_fail=True, dash_conn_id=c
        ),
    ],
    ids=["check", "value", "threshold"],
)
def test_soft_fail_skips_instead_of_failing(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, operator_class: Any
) -> None:
    with pytest.raises(AirflowSkipException, match=r"Skipping \(soft_fail\).*failed"):
        _run(operator_class(sql_query("SELECT 0 AS n"), dash_conn_id))


def test_a_slow_gate_defers_and_judges_the_result_after_the_trigger(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any
) -> None:
    query_id = sql_query("SELECT 0 AS n")
    dash_emulator.set_query_delay(query_id, 0.5)
    triggers: list[Any] = []
    operator = QueryCheckOperator(
        task_id="gate", query_id=query_id, deferrable=True, poll_interval=0.1, dash_conn_id=dash_conn_id
    )

    with pytest.raises(DashCheckFailedError, match="false values \\(n=0\\)"):
        run_inline(operator, make_context(), triggers)

    assert [type(t).__name__ for t in triggers] == ["JobTrigger"]


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize("good", [pytest.param(True, id="pass"), pytest.param(False, id="fail")])
def test_gate_in_a_dag_lets_the_refresh_run_only_when_it_passes(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, run_dag: Any, dag_id: str, deferrable: bool, good: bool
) -> None:
    query_id = sql_query("SELECT 5 AS n" if good else "SELECT 0 AS n")
    dash_emulator.set_query_delay(query_id, 0.3)  # a job to wait on (or defer for)
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        gate = QueryThresholdCheckOperator(
            task_id="gate",
            query_id=query_id,
            min_threshold="{{ params.low }}",
            params={"low": 1},
            deferrable=deferrable,
            poll_interval=0.1,
            dash_conn_id=dash_conn_id,
        )
        refresh = RefreshDashboardOperator(
            task_id="refresh", dashboard=1, max_age=None, poll_interval=0.1, dash_conn_id=dash_conn_id
        )
        gate >> refresh

    result = run_dag(dag)

    if good:
        assert result.state == "success"
        assert isinstance(result.xcom("gate"), int)
        assert result.xcom("gate") == result.xcom("gate", "query_result_id")
        assert result.task_state("refresh") == "success"
    else:
        assert result.task_state("gate") == "failed"
        assert result.task_state("refresh") == "upstream_failed"
        assert isinstance(result.xcom("gate", "query_result_id"), int)  # the checked result is still named


def test_soft_failed_gate_skips_the_refresh_in_a_dag(
    dash_emulator: Any, dash_conn_id: str, sql_query: Any, run_dag: Any, dag_id: str
) -> None:
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1)) as dag:
        gate = QueryCheckOperator(
            task_id="gate", query_id=sql_query(EMPTY), soft_fail=True, deferrable=True, dash_conn_id=dash_conn_id
        )
        gate >> RefreshDashboardOperator(task_id="refresh", dashboard=1, dash_conn_id=dash_conn_id)

    result = run_dag(dag)

    assert result.task_state("gate") == "skipped"
    assert result.task_state("refresh") == "skipped"
