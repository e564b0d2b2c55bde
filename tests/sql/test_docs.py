"""The package docstring's example runs as written."""

from __future__ import annotations

import doctest

import airflow_provider_dash.sql


def test_package_docstring_example_holds() -> None:
    outcome = doctest.testmod(airflow_provider_dash.sql)
    assert outcome.attempted > 0
    assert outcome.failed == 0
