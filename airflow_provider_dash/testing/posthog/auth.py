"""Who is calling and may they: keys, scopes, projects (REFERENCE.md §1, §7 rules 1-2).

Order as in DRF: authenticate (401), method (405), permissions (403), then throttles (429).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import errors
from .routing import Match, Method
from .state import State
from .store import PERSONAL, SECRET, ApiKey


def bearer_token(headers: Mapping[str, str], params: Mapping[str, str], body: Any) -> str | None:
    """:return: the key of the request: ``Authorization: Bearer <key>``, else a ``personal_api_key``
    in the query string or the JSON body (the server looks there too, §1), else None."""
    header = headers.get("authorization", "")
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    if params.get("personal_api_key"):
        return params["personal_api_key"]
    if isinstance(body, dict) and isinstance(body.get("personal_api_key"), str):
        return str(body["personal_api_key"])
    return None


def authenticate(state: State, token: str | None, method: Method | None) -> ApiKey:
    """:return: the key ``token`` names.

    :raises ApiError: 401 ``not_authenticated`` without a key; 401 ``authentication_failed`` for an
        unknown key, or a project secret key where only personal keys are accepted (G1, or any route
        but ``run``: the personal-key authenticator then rejects it).
    """
    if token is None:
        raise errors.not_authenticated()
    with state.store.lock:
        key = state.store.keys.get(token)
    if key is None:
        raise errors.authentication_failed()
    if key.kind == SECRET and (state.g1 or method is None or not method.secret_key_ok):
        raise errors.authentication_failed()
    return key


def authorize(state: State, key: ApiKey, match: Match, method: Method) -> None:
    """Check the key's scope and project.

    :raises ApiError: 403 ``permission_denied``: an action closed to personal keys, a missing scope
        (detail names it), or a project the key may not use (or that does not exist).
    """
    if key.kind == PERSONAL and not method.personal_key_ok:
        raise errors.permission_denied(errors.NO_PERSONAL_KEY_ACCESS_DETAIL)
    if not key.allows(method.scope):
        raise errors.missing_scope(method.scope)
    with state.store.lock:
        exists = match.project_id in state.store.projects
    if not exists or not key.can_access(match.project_id):
        raise errors.permission_denied(errors.NO_PROJECT_ACCESS_DETAIL)
