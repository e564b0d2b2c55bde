"""Shared fixtures: an isolated Airflow home and metadata DB, connections to the emulator, dag.test().

The Redash emulator fixtures (``dash_emulator`` and friends) come from the provider's own pytest
plugin, ``airflow_provider_dash.testing.pytest_plugin``.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Before anything imports Airflow: a throw-away AIRFLOW_HOME, never the user's ~/airflow.
if "airflow" not in sys.modules and "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="dash-tests-")
    os.environ["AIRFLOW_HOME"] = _home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(_home) / "dags")

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh SQLite metadata DB for dag.test(), in a temp dir (never the user's ~/airflow)."""
    from airflow import settings
    from airflow.configuration import conf
    from airflow.utils import db

    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    conf.set("database", "sql_alchemy_conn", f"sqlite:///{home / 'airflow.db'}")
    conf.set("core", "dags_folder", str(home / "dags"))
    conf.set("core", "load_examples", "False")
    settings.dispose_orm()
    settings.configure_vars()
    settings.configure_orm()
    db.initdb()
    return home


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[[Any], Any]:
    """Run a DAG with ``dag.test()`` (deferred tasks run their trigger in-line) and return its result."""
    from dag_helpers import DagResult, register_dag

    def run(dag: Any) -> DagResult:
        register_dag(dag)
        return DagResult(dag.test())

    return run


@pytest.fixture
def dag_id(request: pytest.FixtureRequest) -> str:
    """A DAG id unique to the test."""
    return "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:200]


@pytest.fixture
def dash_conn_id(dash_connection: Callable[..., str]) -> str:
    """The plugin's ``dash_conn_id`` (``dash_default`` to ``dash_emulator``) with one retry, so the
    many tests of failures (5xx, unknown jobs) end without the default retry budget's backoff."""
    return dash_connection(retries=1)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (the root, and each one already made), captured; levels restored after."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    for name in ("urllib3", "httpx", "httpcore", "requests", "airflow", "airflow_provider_dash"):
        loggers.append(logging.getLogger(name))
    old = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    for logger, level in old:
        logger.setLevel(level)
