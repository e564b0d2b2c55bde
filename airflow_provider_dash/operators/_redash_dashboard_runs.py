"""The runs a Redash dashboard refresh makes: one per distinct (query, effective parameters) of its widgets.

Plain functions over the dashboard's widgets (no Airflow, no HTTP): the effective parameters of a
widget's query are its saved defaults, then the values set on the widget, static values, and the
dashboard-level parameters the task fills.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.hooks._redash_parameters import resolve_parameters
from airflow_provider_dash.models import MappingType, Widget


def collect_runs(widgets: Sequence[Widget], overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One run per distinct (query, effective parameters) of the dashboard's widgets, in widget order.

    :raises DashConfigError: when ``overrides`` names a parameter the dashboard does not have.
    :raises DashParameterError: when an effective value does not fit its query's definition.
    """
    dashboard_level = sorted(
        {m.map_to for w in widgets for m in w.parameter_mappings if m.type is MappingType.DASHBOARD_LEVEL}
    )
    unknown = sorted(set(overrides) - set(dashboard_level))
    if unknown:
        listed = ", ".join(dashboard_level) if dashboard_level else "none"
        raise DashConfigError(
            f"parameters {', '.join(unknown)} match no dashboard-level parameter; "
            f"the dashboard's parameters are: {listed}"
        )
    runs: dict[tuple[int, str], dict[str, Any]] = {}
    for widget in widgets:
        query = widget.query
        if query is None:  # a text widget
            continue
        given: dict[str, Any] = {}
        for mapping in widget.parameter_mappings:
            if query.parameter(mapping.name) is None:
                continue  # a stale mapping for a parameter the query no longer has
            if mapping.type is MappingType.DASHBOARD_LEVEL:
                if mapping.map_to in overrides:
                    given[mapping.name] = overrides[mapping.map_to]
            elif mapping.value is not None:  # widget-level value set on the widget, or a static value
                given[mapping.name] = mapping.value
        values = resolve_parameters(query, given)
        key = (query.id, json.dumps(values, sort_keys=True, default=str))
        run = runs.setdefault(
            key, {"query_id": query.id, "parameters": values, "query_result_id": None, "widget_ids": []}
        )
        run["widget_ids"].append(widget.id)
    return list(runs.values())
