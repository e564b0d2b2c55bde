"""Apache Airflow provider for Redash-compatible BI servers (Redash, Inverse Watch, TONalytica) and PostHog Endpoints.

Importing this package is cheap: Airflow calls :func:`get_provider_info` on every start-up, so
nothing here imports Airflow, HTTP clients or the provider's own heavier modules.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# The extras both connection types read the same way (conn_fields.py), declared once for both forms.
_VERIFY_FIELD: dict[str, Any] = {
    "label": "Verify TLS",
    "schema": {"type": ["string", "boolean", "null"], "default": True},
    "description": "true (default), false, or the path of a CA bundle to trust.",
}
_TIMEOUT_FIELD: dict[str, Any] = {
    "label": "HTTP timeout (seconds)",
    "schema": {"type": ["number", "null"], "default": 30},
}


def _retries_field(what_is_retried: str) -> dict[str, Any]:
    """:return: the form field of the extra ``retries``, whose description names what the product retries."""
    return {
        "label": "Retries per request",
        "schema": {"type": ["integer", "null"], "default": 5},
        "description": f"Retries for {what_is_retried}.",
    }


_CONN_FIELDS: dict[str, Any] = {
    "verify": _VERIFY_FIELD,
    "timeout": _TIMEOUT_FIELD,
    "retries": _retries_field("connection errors, timeouts, 5xx and 429 answers"),
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

_POSTHOG_CONN_FIELDS: dict[str, Any] = {
    "project_id": {
        "label": "Project id",
        "schema": {"type": ["integer", "string", "null"]},
        "description": "The PostHog project (environment) id: the number in /project/<id>/ of PostHog's URLs.",
    },
    "verify": _VERIFY_FIELD,
    "timeout": _TIMEOUT_FIELD,
    "run_timeout": {
        "label": "Run timeout (seconds)",
        "schema": {"type": ["number", "null"], "default": 600},
        "description": "How long an endpoint run may hold its request when the task sets no timeout.",
    },
    "retries": _retries_field("connection errors, 429, 502/503/504 (never 4xx or a cost guardrail)"),
    "generation": {
        "label": "API generation",
        "schema": {"type": ["string", "null"], "enum": ["auto", "g3", "g1", None], "default": "auto"},
        "description": "auto (detected from the server's answers), g3 (current PostHog) or g1 (older self-hosted).",
    },
}

_POSTHOG_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"host": "PostHog URL", "password": "API key"},
    "placeholders": {
        "host": "https://us.posthog.com, https://eu.posthog.com or your self-hosted URL",
        "password": "a personal API key (phx_...) or a project secret key (phs_..., runs only)",
        "extra": '{"project_id": 12345, "timeout": 30, "retries": 5}',
    },
}


# [dash] options; shared_http reads them in the triggerer (the default mirrors its MAX_CONCURRENT_REQUESTS).
_CONFIG: dict[str, Any] = {
    "dash": {
        "description": "Settings of the Dash provider (Redash and PostHog Endpoints).",
        "options": {
            "max_requests_in_flight": {
                "description": (
                    "Requests in flight at once from one triggerer to one server, across all its deferred "
                    "tasks (the triggers share one HTTP client per server). More polls a distant server "
                    "faster but costs the triggerer more CPU per poll; 4 is what a stock Redash answers at "
                    "once. A whole number from 1 to 64."
                ),
                "version_added": "0.1.0",
                "type": "integer",
                "example": "8",
                "default": "4",
            },
        },
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
        operators, sensors, triggers, the ``redash`` asset URI scheme, extra links and the ``[dash]``
        options).
    """
    return {
        "package-name": "airflow-provider-dash",
        "name": "Dash (Redash, PostHog Endpoints)",
        "description": (
            "Run Redash queries and PostHog Endpoints, refresh dashboards, gate pipelines on data quality and "
            "export results."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Redash",
                "external-doc-url": "https://redash.io/help/user-guide/integrations-and-api/api",
                "tags": ["service"],
            },
            {
                "integration-name": "PostHog Endpoints",
                "external-doc-url": "https://posthog.com/docs/endpoints",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {
                "integration-name": "Redash",
                "python-modules": ["airflow_provider_dash.hooks.redash", "airflow_provider_dash.hooks.redash_async"],
            },
            {
                "integration-name": "PostHog Endpoints",
                "python-modules": ["airflow_provider_dash.hooks.posthog", "airflow_provider_dash.hooks.posthog_async"],
            },
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
            },
            {
                "integration-name": "PostHog Endpoints",
                "python-modules": [
                    "airflow_provider_dash.operators.posthog",
                    "airflow_provider_dash.operators.posthog_checks",
                    "airflow_provider_dash.operators.posthog_export",
                ],
            },
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
            },
            {
                "integration-name": "PostHog Endpoints",
                "python-modules": ["airflow_provider_dash.triggers.posthog"],
            },
        ],
        # redash://host[:port]/[org/]queries/<id> and .../dashboards/<id>: normalised, built from
        # keyword arguments, and mapped to the OpenLineage dataset the operators emit for it.
        "asset-uris": [_REDASH_ASSET_URI],
        "dataset-uris": [_REDASH_ASSET_URI],
        "config": _CONFIG,
        "connection-types": [
            {
                "connection-type": "dash",
                "hook-class-name": "airflow_provider_dash.hooks.redash.DashHook",
                "hook-name": "Redash",
                "conn-fields": _CONN_FIELDS,
                "ui-field-behaviour": _UI_FIELD_BEHAVIOUR,
            },
            {
                "connection-type": "posthog",
                "hook-class-name": "airflow_provider_dash.hooks.posthog.PostHogHook",
                "hook-name": "PostHog Endpoints",
                "conn-fields": _POSTHOG_CONN_FIELDS,
                "ui-field-behaviour": _POSTHOG_UI_FIELD_BEHAVIOUR,
            },
        ],
        "extra-links": [
            "airflow_provider_dash.links.redash.RedashQueryLink",
            "airflow_provider_dash.links.redash.RedashDashboardLink",
            "airflow_provider_dash.links.posthog.PostHogEndpointLink",
        ],
    }
