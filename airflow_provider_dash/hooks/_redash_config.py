"""The Redash connection, normalised: base URL, API key, TLS, timeout, retries (and a query key's query).

The API key travels only in the ``Authorization: Key <key>`` header: it is never put in a URL, a
log line, an error text or a ``repr``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_dash.exceptions import DashConfigError

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
#: Redash's answer when the key is missing, wrong, or a query key used outside its query.

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """A normalised Dash connection: everything a transport needs, nothing Airflow-specific.

    :param conn_id: the Airflow connection id (used in error texts).
    :param base_url: scheme, host, optional port and org path, without a trailing slash.
    :param api_key: a user API key, or a query API key (then set ``query_id``). Never in ``repr``.
    :param verify: ``True``/``False`` or the path of a CA bundle.
    :param timeout: seconds per HTTP request.
    :param retries: how many times a failed request is retried (0 = no retry).
    :param query_id: for a query API key, the id of the query the key belongs to.
    """

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    query_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, the key included: never log these."""
        return {"Authorization": f"Key {self.api_key}", "Accept": "application/json"}

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (relative to the base URL, no leading slash)."""
        return f"{self.base_url}/{path.lstrip('/')}"


def _extras(conn: Any) -> dict[str, Any]:
    # Read ``conn.extra`` ourselves: ``extra_dejson`` masks secrets synchronously, which must not
    # run inside the triggerer's event loop. None of our extras is a secret.
    raw = getattr(conn, "extra", None)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise DashConfigError(
            f"Connection {conn.conn_id!r}: the extra field is not valid JSON; "
            'expected e.g. {"verify": true, "timeout": 30, "retries": 5}'
        ) from None
    if not isinstance(value, dict):
        raise DashConfigError(f"Connection {conn.conn_id!r}: the extra field must be a JSON object")
    return value


def _as_bool_or_path(conn_id: str, value: Any) -> bool | str:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        if os.path.exists(value):
            return value
    raise DashConfigError(
        f"Connection {conn_id!r}: extra 'verify' must be true, false or the path of an existing CA bundle, "
        f"got {value!r}"
    )


def _as_number(conn_id: str, name: str, value: Any, default: float, *, integer: bool, minimum: float) -> Any:
    if value is None or value == "":
        return default
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number) or number < minimum or (integer and number != int(number)):
        kind = "a whole number" if integer else "a number"
        raise DashConfigError(f"Connection {conn_id!r}: extra {name!r} must be {kind} >= {minimum:g}, got {value!r}")
    return int(number) if integer else float(number)


def _base_url(conn_id: str, host: str, schema: str | None, port: int | None, protocol: Any = None) -> str:
    host = host.strip()
    schema = (schema or "").strip().strip("/")
    if "://" not in host:
        # The scheme comes from the schema field or the extra ``protocol``; https by default.
        choices = [str(c).strip().lower() for c in (schema, protocol) if c]
        scheme = next((c for c in choices if c in ("http", "https")), "https")
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DashConfigError(
            f"Connection {conn_id!r}: host {host!r} is not a base URL such as https://redash.example.com"
        )
    if parts.query or parts.fragment:
        raise DashConfigError(f"Connection {conn_id!r}: the base URL must not carry a query string or fragment")
    if parts.username or parts.password:
        raise DashConfigError(
            f"Connection {conn_id!r}: put no credentials in the base URL; the API key goes in the password field"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{int(port)}"
    path = parts.path.rstrip("/")
    # A schema that is not a URL scheme is an org path (URI form ``dash://:key@host/acme``).
    if schema and schema.lower() not in ("http", "https") and not path:
        path = "/" + schema
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def config_from_connection(conn: Any) -> ConnectionConfig:
    """Normalise an Airflow connection into a :class:`ConnectionConfig`.

    ``host`` is the base URL (when it has no scheme: ``schema`` or extra ``protocol`` if either is
    http/https, else ``https://``; ``port`` is added when the host has none; an org path such as
    ``https://app.redash.io/acme`` is kept, and a ``schema`` that is not a scheme is taken as the org
    path, as in the URI ``dash://:key@host/acme``), ``password`` the API key, and the extras ``verify``,
    ``timeout``, ``retries`` and ``query_id`` tune the client (strings such as ``"false"`` accepted).

    :param conn: an Airflow ``Connection`` (any object with the same attributes).
    :return: the normalised configuration.
    :raises DashConfigError: naming the connection id and what is missing or wrong.
    """
    conn_id = str(getattr(conn, "conn_id", None) or "<unnamed>")
    host = getattr(conn, "host", None)
    if not host or not str(host).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no host: set it to the server's base URL, e.g. https://redash.example.com"
        )
    api_key = getattr(conn, "password", None)
    if not api_key or not str(api_key).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no API key: put a user API key (or a query API key with extra query_id) "
            "in the password field"
        )
    extras = _extras(conn)
    query_id = extras.get("query_id")
    query_id = None if query_id in (None, "") else _as_number(conn_id, "query_id", query_id, 0, integer=True, minimum=1)
    return ConnectionConfig(
        conn_id=conn_id,
        base_url=_base_url(
            conn_id, str(host), getattr(conn, "schema", None), getattr(conn, "port", None), extras.get("protocol")
        ),
        api_key=str(api_key).strip(),
        verify=_as_bool_or_path(conn_id, extras.get("verify")),
        timeout=_as_number(conn_id, "timeout", extras.get("timeout"), DEFAULT_TIMEOUT, integer=False, minimum=0.001),
        retries=_as_number(conn_id, "retries", extras.get("retries"), DEFAULT_RETRIES, integer=True, minimum=0),
        query_id=query_id,
    )


def config_from_url(
    base_url: str,
    api_key: str,
    *,
    verify: bool | str = True,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    query_id: int | None = None,
    name: str = "--url",
) -> ConnectionConfig:
    """Normalise a base URL and a key (no Airflow connection) exactly as :func:`config_from_connection` does.

    :param name: what error texts call this connection (there is no connection id).
    :return: the normalised configuration.
    :raises DashConfigError: naming ``name`` and what is missing or wrong.
    """
    extra = {"verify": verify, "timeout": timeout, "retries": retries, "query_id": query_id}
    conn = SimpleNamespace(conn_id=name, host=base_url, password=api_key, schema=None, port=None, extra=extra)
    return config_from_connection(conn)
