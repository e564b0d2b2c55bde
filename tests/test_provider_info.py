"""Airflow discovers the provider: metadata, the `dash` connection type and its form, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_provider_dash


def test_provider_info_names_importable_classes_and_modules() -> None:
    from importlib import import_module

    info = airflow_provider_dash.get_provider_info()
    assert info["package-name"] == "airflow-provider-dash"
    modules = [
        m
        for section in ("hooks", "operators", "sensors", "triggers")
        for e in info[section]
        for m in e["python-modules"]
    ]
    for module in modules:
        import_module(module)
    for dotted in [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]:
        module, _, name = dotted.rpartition(".")
        assert hasattr(import_module(module), name), dotted


def test_providers_manager_reads_the_connection_form_without_errors() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers["airflow-provider-dash"].version == airflow_provider_dash.__version__
    widgets = {k for k in manager.connection_form_widgets if k.startswith("extra__dash__")}
    assert widgets == {"extra__dash__verify", "extra__dash__timeout", "extra__dash__retries", "extra__dash__query_id"}
    behaviour = manager.field_behaviours["dash"]
    assert behaviour["relabeling"]["password"] == "API key"
    posthog = {k for k in manager.connection_form_widgets if k.startswith("extra__posthog__")}
    assert posthog == {
        f"extra__posthog__{name}"
        for name in ("project_id", "verify", "timeout", "run_timeout", "retries", "generation")
    }
    assert manager.field_behaviours["posthog"]["relabeling"]["host"] == "PostHog URL"


def test_hook_declares_the_same_form_as_the_provider_info() -> None:
    from airflow_provider_dash.hooks.dash import DashHook
    from airflow_provider_dash.hooks.posthog import PostHogHook

    conn_types = airflow_provider_dash.get_provider_info()["connection-types"]
    assert [c["connection-type"] for c in conn_types] == ["dash", "posthog"]
    for hook, conn_type in zip((DashHook, PostHogHook), conn_types, strict=True):
        declared = {key.replace("-", "_"): value for key, value in conn_type["ui-field-behaviour"].items()}
        assert hook.get_ui_field_behaviour() == declared
        assert hook.hook_name == conn_type["hook-name"]
        assert hook.conn_type == conn_type["connection-type"]


def test_importing_the_package_does_not_import_airflow_or_http_clients() -> None:
    code = (
        "import sys, airflow_provider_dash; airflow_provider_dash.get_provider_info();"
        "print(sorted(m for m in ('airflow', 'requests', 'httpx', 'tenacity') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run([_airflow(), "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def test_cli_lists_provider_and_accepts_dash_connections(airflow_home: dict[str, str]) -> None:
    listed = subprocess.run([_airflow(), "providers", "list"], env=airflow_home, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "airflow-provider-dash" in listed.stdout
    added = subprocess.run(
        [
            _airflow(), "connections", "add", "dash_cli_test", "--conn-type", "dash",
            "--conn-host", "https://app.redash.io/acme", "--conn-password", "not-a-real-key",
            "--conn-extra", json.dumps({"verify": True, "timeout": 10}),
        ],
        env=airflow_home, capture_output=True, text=True,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr[-2000:]
    shown = subprocess.run(
        [_airflow(), "connections", "get", "dash_cli_test", "-o", "json"],
        env=airflow_home, capture_output=True, text=True, check=True,
    )  # fmt: skip
    conn = json.loads(shown.stdout[shown.stdout.index("[") :])[0]
    assert conn["conn_type"] == "dash"
    assert conn["host"] == "https://app.redash.io/acme"


def test_the_declared_config_validates_and_its_default_is_the_shared_pools_cap() -> None:
    import jsonschema
    from airflow import providers_manager

    from airflow_provider_dash import shared_http

    schema_path = Path(providers_manager.__file__).with_name("provider_info.schema.json")
    info = airflow_provider_dash.get_provider_info()
    jsonschema.validate(info, json.loads(schema_path.read_text()))
    option = info["config"][shared_http.CONFIG_SECTION]["options"][shared_http.CONFIG_OPTION]
    assert option["default"] == str(shared_http.MAX_CONCURRENT_REQUESTS)
