"""Endpoint and version objects as each generation shows them, and DRF's limit/offset pages.

REFERENCE.md §2.1 (list page), §2.2 (EndpointResponse), §2.3 (EndpointVersionResponse), §2.7
(versions: G3 page, G1 bare array).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .formats import iso_drf
from .hogql import materialize_problem
from .store import Endpoint, Version

DEFAULT_PAGE_LIMIT = 100


def materialization(version: Version) -> dict[str, Any]:
    """:return: ``{"can_materialize", "reason"}`` of a version's query (§5: variables in ``WHERE`` only)."""
    reason = materialize_problem(str(version.query.get("query", ""))) if version.is_hogql else None
    return {"can_materialize": reason is None, "reason": reason}


def _user(version_or_endpoint: Version | Endpoint) -> dict[str, Any] | None:
    user = version_or_endpoint.created_by
    return user.to_json() if user else None


def _when(moment: Any) -> str | None:
    return iso_drf(moment) if moment is not None else None


def endpoint_json(ep: Endpoint, site: str) -> dict[str, Any]:
    """:return: G3's ``EndpointResponse`` (fields of the current version where they are per version)."""
    current = ep.current
    assert current is not None, "an endpoint without versions has no EndpointResponse"
    path = f"/api/environments/{ep.project_id}/endpoints/{ep.name}/run"
    return {
        "id": ep.id,
        "name": ep.name,
        "description": current.description,
        "query": current.query,
        "is_active": ep.is_active,
        "data_freshness_seconds": current.data_freshness_seconds,
        "endpoint_path": path,
        "url": site + path,
        "ui_url": f"{site}/project/{ep.project_id}/endpoints/{ep.name}",
        "created_at": iso_drf(ep.created_at),
        "updated_at": _when(ep.updated_at or ep.created_at),
        "created_by": _user(ep),
        "is_materialized": current.is_materialized,
        "current_version": ep.current_version,
        "current_version_id": current.id,
        "versions_count": len(ep.versions),
        "derived_from_insight": ep.derived_from_insight,
        "last_executed_at": _when(ep.last_executed_at),
        "materialization": materialization(current),
        "bucket_overrides": ep.bucket_overrides,
        "columns": [{"name": name, "type": kind} for name, kind in current.columns],
        "tags": list(ep.tags),
        "optional_breakdown_properties": list(ep.optional_breakdown_properties),
    }


def version_json(ep: Endpoint, version: Version, site: str) -> dict[str, Any]:
    """:return: G3's ``EndpointVersionResponse``: the endpoint seen through one version (§2.3)."""
    out = endpoint_json(ep, site)
    out.update(
        {
            "description": version.description,
            "query": version.query,
            "is_active": version.is_active,
            "data_freshness_seconds": version.data_freshness_seconds,
            "is_materialized": version.is_materialized,
            "last_executed_at": _when(version.last_executed_at),
            "materialization": materialization(version),
            "columns": [{"name": name, "type": kind} for name, kind in version.columns],
            "version": version.number,
            "version_id": version.id,
            "endpoint_is_active": ep.is_active,
            "version_created_at": iso_drf(version.created_at),
            "version_updated_at": _when(version.updated_at or version.created_at),
            "version_created_by": _user(version),
        }
    )
    return out


def endpoint_json_g1(ep: Endpoint) -> dict[str, Any]:
    """:return: a G1 endpoint object (``parameters``, ``cache_age_seconds``; G1.5's version fields)."""
    current = ep.current
    assert current is not None, "an endpoint without versions has no G1 object"
    return {
        "id": ep.id,
        "name": ep.name,
        "description": current.description,
        "query": current.query,
        "parameters": {},
        "is_active": ep.is_active,
        "cache_age_seconds": current.cache_age_seconds,
        "sync_frequency": current.sync_frequency,
        "endpoint_path": f"/api/projects/{ep.project_id}/endpoints/{ep.name}/run",
        "created_at": iso_drf(ep.created_at),
        "updated_at": _when(ep.updated_at or ep.created_at),
        "created_by": _user(ep),
        "is_materialized": current.is_materialized,
        "last_executed_at": _when(ep.last_executed_at),
        "current_version": ep.current_version,
        "versions_count": len(ep.versions),
    }


def version_json_g1(version: Version) -> dict[str, Any]:
    """:return: a G1 version object (§2.7, §2.8)."""
    return {
        "id": version.id,
        "version": version.number,
        "query": version.query,
        "created_at": iso_drf(version.created_at),
        "created_by": _user(version),
    }


def _replace_query_param(url: str, key: str, value: Any) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def _remove_query_param(url: str, key: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params.pop(key, None)
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def _int(text: str | None, default: int, positive: bool) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    if value < 0 or (positive and value == 0):
        return default
    return value


def page(items: Sequence[Any], params: Mapping[str, str], url: str, serialise: Callable[[Any], Any]) -> dict[str, Any]:
    """:return: DRF's ``LimitOffsetPagination`` page ``{count, next, previous, results}`` with absolute
    links built from the request ``url`` (a bad ``limit`` means the default, a bad ``offset`` 0)."""
    limit = _int(params.get("limit"), DEFAULT_PAGE_LIMIT, positive=True)
    offset = _int(params.get("offset"), 0, positive=False)
    count = len(items)
    following = None
    if offset + limit < count:
        following = _replace_query_param(_replace_query_param(url, "limit", limit), "offset", offset + limit)
    previous = None
    if offset > 0:
        base = _replace_query_param(url, "limit", limit)
        if offset - limit <= 0:
            previous = _remove_query_param(base, "offset")
        else:
            previous = _replace_query_param(base, "offset", offset - limit)
    return {
        "count": count,
        "next": following,
        "previous": previous,
        "results": [serialise(item) for item in items[offset : offset + limit]],
    }
