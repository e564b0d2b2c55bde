"""Apache Airflow provider for Redash-compatible BI servers (Redash, Inverse Watch, TONalytica).

Importing this package is cheap: Airflow calls :func:`get_provider_info` on every start-up, so
nothing here imports Airflow, HTTP clients or the provider's own heavier modules.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_CONN_FIELDS: dict[str, Any] = {
    "verify": {
        "label": "Verify TLS",
        "schema": {"type": ["string", "boolean", "null"], "default": True},
        "description": "true (default), false, or the path of a CA bundle to trust.",
    },
    "timeout": {
        "label": "HTTP timeout (seconds)",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "retries": {
        "label": "Retries per request",
        "schema": {"type": ["integer", "null"], "default": 5},
        "description": "Retries for connection errors, timeouts, 5xx and 429 answers.",
    },
    "query_id": {
        "label": "Query id (query API keys only)",
        "schema": {"type": ["integer", "null"]},
        "description": "With a query's own API key: the query it belongs to.",
    },
}

# The one declaration of the form's standard fields: Airflow >= 3.2 reads it from the provider info,
# older versions from DashHook.get_ui_field_behaviour, which returns the same.
_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"host": "Base URL", "password": "API key"},
    "placeholders": {
        "host": "https://redash.example.com (may carry an org path: https://app.redash.io/acme)",
        "password": "a user API key, or a query API key (then set extra query_id)",
        "extra": '{"verify": true, "timeout": 30, "retries": 5, "query_id": null}',
    },
}


_ASSETS = "airflow_provider_dash.lineage.redash_assets"
_REDASH_ASSET_URI: dict[str, Any] = {
    "schemes": ["redash"],
    "handler": f"{_ASSETS}.sanitize_uri",
    "factory": f"{_ASSETS}.create_asset",
    "to_openlineage_converter": f"{_ASSETS}.convert_asset_to_openlineage",
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's providers manager.

    :return: the provider metadata dict (package, versions, connection type and its form, hooks,
        operators, sensors, triggers, the ``redash`` asset URI scheme and extra links).
    """
    return {
        "package-name": "airflow-provider-dash",
        "name": "Dash (Redash)",
        "description": "Run Redash queries, refresh dashboards, gate pipelines on data quality and export results.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Redash",
                "external-doc-url": "https://redash.io/help/user-guide/integrations-and-api/api",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Redash",
                "python-modules": ["airflow_provider_dash.hooks.redash", "airflow_provider_dash.hooks.redash_async"],
            }
        ],
        "operators": [
            {
                "integration-name": "Redash",
                "python-modules": [
                    "airflow_provider_dash.operators.redash",
                    "airflow_provider_dash.operators.redash_dashboard",
                    "airflow_provider_dash.operators.redash_checks",
                    "airflow_provider_dash.operators.redash_export",
                    "airflow_provider_dash.operators.redash_tools",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Redash",
                "python-modules": [
                    "airflow_provider_dash.sensors.redash",
                    "airflow_provider_dash.sensors.redash_checks",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Redash",
                "python-modules": [
                    "airflow_provider_dash.triggers.redash",
                    "airflow_provider_dash.triggers.redash_assets",
                ],
            }
        ],
        # redash://host[:port]/[org/]queries/<id> and .../dashboards/<id>: normalised, built from
        # keyword arguments, and mapped to the OpenLineage dataset the operators emit for it.
        "asset-uris": [_REDASH_ASSET_URI],
        "dataset-uris": [_REDASH_ASSET_URI],
        "connection-types": [
            {
                "connection-type": "dash",
                "hook-class-name": "airflow_provider_dash.hooks.redash.DashHook",
                "hook-name": "Redash",
                "conn-fields": _CONN_FIELDS,
                "ui-field-behaviour": _UI_FIELD_BEHAVIOUR,
            }
        ],
        "extra-links": [
            "airflow_provider_dash.links.redash.RedashQueryLink",
            "airflow_provider_dash.links.redash.RedashDashboardLink",
        ],
    }
