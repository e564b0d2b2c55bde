"""What a run sends, per generation: the body (G3 or G1 keys, never both), generation detection, variable checks.

REFERENCE.md §0 and §2.6: a G3 server rejects G1's keys (``variables_values``, RefreshType values)
with 400 ``validation_error`` naming the key, and a G1 server rejects G3's (``variables``,
``refresh: "cache"``) with 400 ``invalid_request``/``parse_error``; so the generation is told by the
server's answer and only that generation's keys are sent. §5: variables are matched by
``code_name``; G3 rejects unknown names, G1 silently ignored them, so both are checked here first.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_dash.arguments import as_mapping
from airflow_provider_dash.exceptions import DashConfigError, DashVariableError
from airflow_provider_dash.hooks._posthog_config import G1, G3
from airflow_provider_dash.hooks._posthog_errors import read_error
from airflow_provider_dash.models.posthog import INSIGHT_DATE_VARIABLES, Endpoint

REFRESH_MODES = ("cache", "force", "direct")
#: G1's RefreshType for each G3 mode (§4.2): both are synchronous; G1 has no "direct".
G1_REFRESH = {"cache": "blocking", "force": "force_blocking"}
_G1_ONLY_KEYS = frozenset({"variables_values", "variables_override", "query_override"})


def new_client_query_id() -> str:
    """A fresh ``client_query_id``: it tags the run on the server so ``DELETE /query/{id}`` can cancel it."""
    return f"airflow-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class RunSpec:
    """One run of an endpoint, before it is spelled in a generation's keys.

    :param endpoint: the endpoint's name.
    :param variables: ``{code_name: value}``.
    :param version: run this version (``None``: the current one).
    :param refresh: ``cache`` (default), ``force`` or ``direct``.
    :param limit: rows of this page (G3, HogQL endpoints).
    :param offset: first row of this page (G3, with ``limit``).
    :param client_query_id: the run's tag for cancelling.
    """

    endpoint: str
    variables: Mapping[str, Any]
    version: int | None = None
    refresh: str = "cache"
    limit: int | None = None
    offset: int | None = None
    client_query_id: str = ""

    def page(self, limit: int | None, offset: int | None) -> RunSpec:
        """The same run for another page."""
        return replace(self, limit=limit, offset=offset)

    def with_refresh(self, refresh: str) -> RunSpec:
        """The same run with another refresh mode."""
        return replace(self, refresh=refresh)


def check_refresh(refresh: Any) -> str:
    """``refresh`` if it is one of :data:`REFRESH_MODES`.

    :raises DashConfigError: naming the value and the allowed ones.
    """
    if refresh not in REFRESH_MODES:
        raise DashConfigError(f"refresh must be one of {', '.join(map(repr, REFRESH_MODES))}, got {refresh!r}")
    return str(refresh)


def run_body(spec: RunSpec, generation: str) -> dict[str, Any]:
    """The JSON body of ``POST /run`` in ``generation``'s keys only (§8: nothing else is sent).

    :raises DashConfigError: for what a G1 server cannot do (``direct``, ``limit``/``offset``).
    """
    if generation == G1:
        if spec.refresh not in G1_REFRESH:
            raise DashConfigError(
                f"refresh={spec.refresh!r} does not exist on this first-generation (G1) PostHog server; "
                "use 'cache' or 'force'"
            )
        if spec.limit is not None or spec.offset is not None:
            raise DashConfigError("a first-generation (G1) PostHog server cannot page a run (no limit/offset)")
        g1: dict[str, Any] = {"refresh": G1_REFRESH[spec.refresh], "client_query_id": spec.client_query_id}
        if spec.variables:
            g1["variables_values"] = dict(spec.variables)
        if spec.version is not None:
            g1["version"] = spec.version
        return g1
    body: dict[str, Any] = {"refresh": spec.refresh, "client_query_id": spec.client_query_id}
    if spec.variables:
        body["variables"] = dict(spec.variables)
    for key in ("version", "limit", "offset"):
        value = getattr(spec, key)
        if value is not None:
            body[key] = value
    return body


def rejected_as_other_generation(status: int, body: bytes | str | None, sent: str) -> bool:
    """True when a 400 to a run says the server is of the other generation than the keys ``sent``.

    A G1 server refuses a G3 body in its strict model: ``invalid_request``/``parse_error``. A G3 server
    answers a G1 body with ``validation_error`` naming a G1-only key, or ``refresh``.
    """
    if status != 400:
        return False
    error = read_error(body)
    if sent == G3:
        return error.type == "invalid_request" and error.code == "parse_error"
    return error.type == "validation_error" and (error.attr in _G1_ONLY_KEYS or error.attr == "refresh")


def generation_of_list(data: Any) -> str | None:
    """``g3`` for a DRF page (``count``), ``g1`` for a bare ``{"results"}``, ``None`` for neither."""
    if isinstance(data, Mapping) and "results" in data:
        return G3 if "count" in data else G1
    return None


def as_variables(variables: Any, endpoint: str) -> dict[str, Any]:
    """The rendered ``variables`` as a dict of JSON values (a template may render to a JSON object text).

    :raises DashVariableError: naming the endpoint (and the variable whose value is not JSON).
    """
    error = functools.partial(DashVariableError, endpoint=endpoint)
    out: dict[str, Any] = {}
    for name, value in as_mapping(variables, f"variables of endpoint {endpoint!r}", "variable", error).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise DashVariableError(
                f"variable {name!r} of endpoint {endpoint!r} has a value that is not JSON "
                f"({type(value).__name__}: {value!r}); pass a string, number, boolean, null, list or dict",
                endpoint=endpoint,
                variable=str(name),
            ) from None
        out[str(name)] = value
    return out


def allowed_variables(endpoint: Endpoint, materialized_read: bool) -> tuple[str, ...]:
    """The variable names a run of ``endpoint`` may send (§5): a HogQL endpoint's code names; an insight's
    breakdown properties, plus ``date_from``/``date_to`` unless the read is materialized."""
    if endpoint.is_hogql:
        return tuple(v.code_name for v in endpoint.variables)
    names = endpoint.breakdown_properties
    return names if materialized_read else (*names, *INSIGHT_DATE_VARIABLES)


def required_variables(endpoint: Endpoint, materialized_read: bool) -> tuple[str, ...]:
    """The names a run must send: none inline (stored defaults apply); on a materialized read every
    HogQL variable, or every breakdown not listed in ``optional_breakdown_properties`` (§2.6 step 10)."""
    if not materialized_read:
        return ()
    if endpoint.is_hogql:
        return tuple(v.code_name for v in endpoint.variables)
    optional = set(endpoint.optional_breakdown_properties)
    return tuple(n for n in endpoint.breakdown_properties if n not in optional)


def check_variables(endpoint: Endpoint, variables: Mapping[str, Any], refresh: str = "cache") -> None:
    """Check ``variables`` against the endpoint's definition before anything runs.

    :param endpoint: the endpoint (seen through the version that will run).
    :param refresh: the run's refresh mode (``direct`` bypasses a materialized table).
    :raises DashVariableError: for an unknown name or a missing required one, naming the endpoint and
        the allowed names.
    """
    materialized_read = endpoint.is_materialized and refresh != "direct"
    allowed = allowed_variables(endpoint, materialized_read)
    where = f"endpoint {endpoint.name!r}" + (f" (version {endpoint.version})" if endpoint.version else "")
    listed = ", ".join(allowed) if allowed else "none"
    unknown = [name for name in variables if name not in allowed]
    if unknown:
        raise DashVariableError(
            f"{where} has no variable(s) {', '.join(map(repr, unknown))}; its variables are: {listed}",
            endpoint=endpoint.name,
            variable=unknown[0],
            allowed=allowed,
        )
    missing = [name for name in required_variables(endpoint, materialized_read) if name not in variables]
    if missing:
        raise DashVariableError(
            f"{where} is materialized and needs every variable: {', '.join(map(repr, missing))} "
            f"not given (its variables are: {listed}; refresh='direct' runs without the materialized table)",
            endpoint=endpoint.name,
            variable=missing[0],
            allowed=allowed,
        )
