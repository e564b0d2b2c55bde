"""Reading an Airflow connection's fields the same way for every product: extras, TLS, numbers, base URL.

Product-neutral: each product's config module (``hooks/_redash_config.py``, ``hooks/_posthog_config.py``)
builds its own frozen config from these, naming the connection and an example of what is expected.
None of our extras is a secret, so the extra field is read directly (``extra_dejson`` masks secrets
synchronously, which must not run inside the triggerer's event loop).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_dash.exceptions import DashConfigError

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def read_extras(conn: Any, example: str = '{"verify": true, "timeout": 30, "retries": 5}') -> dict[str, Any]:
    """The connection's extra field as a dict.

    :param example: a valid extra, shown when the field is not JSON.
    :raises DashConfigError: when the field is not a JSON object.
    """
    raw = getattr(conn, "extra", None)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise DashConfigError(
            f"Connection {conn.conn_id!r}: the extra field is not valid JSON; expected e.g. {example}"
        ) from None
    if not isinstance(value, dict):
        raise DashConfigError(f"Connection {conn.conn_id!r}: the extra field must be a JSON object")
    return value


def as_bool_or_path(conn_id: str, value: Any) -> bool | str:
    """Extra ``verify``: ``True`` (default), ``False`` (texts such as ``"false"`` too) or an existing CA bundle path.

    :raises DashConfigError: for anything else.
    """
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


def as_number(conn_id: str, name: str, value: Any, default: Any, *, integer: bool, minimum: float) -> Any:
    """A numeric extra (numbers or numeric texts), ``default`` when absent.

    :raises DashConfigError: naming the extra, when it is not a number >= ``minimum`` (a whole one with ``integer``).
    """
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
    if number is None or not math.isfinite(number) or number < minimum or (integer and number != int(number)):
        kind = "a whole number" if integer else "a number"
        raise DashConfigError(f"Connection {conn_id!r}: extra {name!r} must be {kind} >= {minimum:g}, got {value!r}")
    return int(number) if integer else float(number)


def base_url(
    conn_id: str,
    host: str,
    schema: str | None,
    port: int | None,
    protocol: Any = None,
    *,
    example: str = "https://redash.example.com",
    keep_path: bool = True,
) -> str:
    """The base URL of ``host``: scheme (``schema`` or extra ``protocol`` when http/https, else https),
    ``port`` when the host has none, and the path (an org path) unless ``keep_path`` is false.

    A ``schema`` that is not a scheme is taken as the path when the host has none (URI form
    ``conn://:key@host/acme``).

    :param example: a valid base URL, shown in the error.
    :raises DashConfigError: for a host that is not an http(s) URL, or carries a query, fragment or credentials.
    """
    host = host.strip()
    schema = (schema or "").strip().strip("/")
    if "://" not in host:
        choices = [str(c).strip().lower() for c in (schema, protocol) if c]
        scheme = next((c for c in choices if c in ("http", "https")), "https")
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DashConfigError(f"Connection {conn_id!r}: host {host!r} is not a base URL such as {example}")
    if parts.query or parts.fragment:
        raise DashConfigError(f"Connection {conn_id!r}: the base URL must not carry a query string or fragment")
    if parts.username or parts.password:
        raise DashConfigError(
            f"Connection {conn_id!r}: put no credentials in the base URL; the API key goes in the password field"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{int(port)}"
    path = parts.path.rstrip("/") if keep_path else ""
    if keep_path and schema and schema.lower() not in ("http", "https") and not path:
        path = "/" + schema
    return urlunsplit((parts.scheme, netloc, path, "", ""))
