"""The Redash connection, normalised: base URL, API key, TLS, timeout, retries (and a query key's query).

The API key travels only in the ``Authorization: Key <key>`` header: it is never put in a URL, a
log line, an error text or a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from airflow_provider_dash.conn_fields import as_bool_or_path, as_number, base_url, read_extras
from airflow_provider_dash.exceptions import DashConfigError

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5


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
    return read_extras(conn)


def _as_bool_or_path(conn_id: str, value: Any) -> bool | str:
    return as_bool_or_path(conn_id, value)


def _as_number(conn_id: str, name: str, value: Any, default: float, *, integer: bool, minimum: float) -> Any:
    return as_number(conn_id, name, value, default, integer=integer, minimum=minimum)


def _base_url(conn_id: str, host: str, schema: str | None, port: int | None, protocol: Any = None) -> str:
    return base_url(conn_id, host, schema, port, protocol)


def base_url_of_connection(conn: Any) -> str:
    """The normalised base URL of an Airflow connection (as :func:`config_from_connection` makes it),
    without needing its key: naming the server is all an asset needs.

    :raises DashConfigError: naming the connection id when it has no host or a bad one.
    """
    conn_id = str(getattr(conn, "conn_id", None) or "<unnamed>")
    host = getattr(conn, "host", None)
    if not host or not str(host).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no host: set it to the server's base URL, e.g. https://redash.example.com"
        )
    protocol = _extras(conn).get("protocol")
    return _base_url(conn_id, str(host), getattr(conn, "schema", None), getattr(conn, "port", None), protocol)


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
    server = base_url_of_connection(conn)
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
        base_url=server,
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
