"""The stored query object of an endpoint: its kind, its variable definitions and their checks.

REFERENCE.md §2.2 (create checks), §5 (variables). A HogQL endpoint stores ``query.variables`` keyed
by variable UUID, each entry ``{variableId, code_name, value[, isNull]}``; the SQL names them
``{variables.<code_name>}``. Insight endpoints take their breakdown properties as variables.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from . import errors
from .hogql import placeholders

HOGQL = "HogQLQuery"
INSIGHT_KINDS = frozenset(
    {"TrendsQuery", "FunnelsQuery", "RetentionQuery", "LifecycleQuery", "StickinessQuery", "PathsQuery"}
)
#: Variables every non-materialized insight endpoint accepts (§2.6, §5).
INSIGHT_DATE_VARIABLES = ("date_from", "date_to")


def hogql_query(sql: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:return: a ``HogQLQuery`` object whose ``variables`` map holds ``{code_name: default}``, each
    under a new variable UUID."""
    entries: dict[str, Any] = {}
    for code_name, default in (variables or {}).items():
        var_id = str(uuid.uuid4())
        entries[var_id] = {"variableId": var_id, "code_name": code_name, "value": default}
    query: dict[str, Any] = {"kind": HOGQL, "query": sql}
    if entries:
        query["variables"] = entries
    return query


def definitions(query: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """:return: the variable entries of a HogQL query by ``code_name`` (malformed entries skipped)."""
    out: dict[str, dict[str, Any]] = {}
    raw = query.get("variables")
    if isinstance(raw, Mapping):
        for entry in raw.values():
            if isinstance(entry, Mapping) and isinstance(entry.get("code_name"), str):
                out[entry["code_name"]] = dict(entry)
    return out


def defaults(query: Mapping[str, Any]) -> dict[str, Any]:
    """:return: the stored value of every variable (``isNull`` entries give None)."""
    return {name: None if e.get("isNull") else e.get("value") for name, e in definitions(query).items()}


def breakdown_properties(query: Mapping[str, Any]) -> list[str]:
    """:return: the breakdown property names of an insight query (its run variables, §5)."""
    found: list[str] = []
    bf = query.get("breakdownFilter")
    if isinstance(bf, Mapping):
        single = bf.get("breakdown")
        for item in single if isinstance(single, list) else [single]:
            if isinstance(item, str) and item:
                found.append(item)
        for item in bf.get("breakdowns") or []:
            if isinstance(item, Mapping) and isinstance(item.get("property"), str):
                found.append(item["property"])
    return found


def check(query: Any) -> None:
    """Check a query object given to create or update (§2.2: kind, placeholders ↔ code names).

    :raises ApiError: 400 ``validation_error`` with ``attr: "query"``.
    """
    if not isinstance(query, Mapping):
        raise errors.validation("Query must be an object with a 'kind'.", "query")
    kind = query.get("kind")
    if kind in INSIGHT_KINDS:
        return
    if kind != HOGQL:
        raise errors.validation(f"Unsupported query kind: {kind}", "query")
    sql = query.get("query")
    if not isinstance(sql, str) or not sql.strip():
        raise errors.validation("HogQL query must have a non-empty 'query' string.", "query")
    raw = query.get("variables")
    if raw is not None and (
        not isinstance(raw, Mapping)
        or not all(isinstance(e, Mapping) and isinstance(e.get("code_name"), str) for e in raw.values())
    ):
        raise errors.validation("query.variables must map variable ids to objects with a 'code_name'.", "query")
    known = definitions(query)
    missing = [name for name in placeholders(sql) if name not in known]
    if missing:
        listed = ", ".join(missing)
        raise errors.validation(f"Variable(s) {listed} used in the query are not defined in query.variables.", "query")
