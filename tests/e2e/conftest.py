"""Pytest set-up for the end-to-end tests: the ``e2e`` marker, and each test's outcome on its item."""

from __future__ import annotations

from collections.abc import Generator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``e2e`` marker (deselect with ``-m "not e2e"``)."""
    config.addinivalue_line("markers", "e2e: starts a real Airflow (scheduler, triggerer, ...) on loopback; slow")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item (``item.rep_call``), so fixtures can see a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
