"""Fixtures for the operator, sensor and trigger tests: a throw-away Airflow DB, connections, dag.test()."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# An isolated Airflow home, when Airflow is not imported yet (running this directory alone).
# Otherwise the session fixture below points the already-loaded configuration at its own DB.
if "airflow" not in __import__("sys").modules and "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="dash-operator-tests-")
    os.environ["AIRFLOW_HOME"] = _home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(_home) / "dags")


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
def dash_conn_id(dash_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection (environment variable) to ``dash_emulator`` with the admin's user key."""
    conn_id = "dash_emulator"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "dash",
                "host": dash_emulator.url,
                "password": dash_emulator.user_key,
                "extra": {"retries": 1},
            }
        ),
    )
    return conn_id


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[[Any], Any]:
    """Run a DAG with ``dag.test()`` (deferred tasks run their trigger in-line) and return its result."""

    from operators.helpers import DagResult, register_dag

    def run(dag: Any) -> DagResult:
        register_dag(dag)
        return DagResult(dag.test())

    return run


@pytest.fixture
def dag_id(request: pytest.FixtureRequest) -> str:
    """A DAG id unique to the test."""
    return "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:200]


@pytest.fixture
def dash_hook(dash_conn_id: str) -> Iterator[Any]:
    """A DashHook on ``dash_conn_id`` (to act on the server as another client would)."""
    from airflow_provider_dash.hooks.dash import DashHook

    hook = DashHook(dash_conn_id)
    yield hook
    hook.close()
