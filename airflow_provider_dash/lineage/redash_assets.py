"""The ``redash`` asset URI scheme: normaliser, factory, OpenLineage mapping, and Asset builders.

One URI names one saved query or one dashboard of one server::

    redash://host[:port]/[org/]queries/<id>
    redash://host[:port]/[org/]dashboards/<id>

The host is the server's (lower case, no user info), the optional ``org`` is the org path of a
multi-org server (``https://app.redash.io/acme`` -> ``redash://app.redash.io/acme/...``) and the
id is the numeric id: a dashboard's slug changes when it is renamed, so it never names one.

Airflow imports the normaliser (:func:`sanitize_uri`) whenever a DAG file builds an ``Asset`` with
this scheme, so this module imports the standard library only; ``airflow.sdk`` is imported inside
the helpers that build assets.

The OpenLineage dataset of a URI (:func:`convert_asset_to_openlineage`) is the one the operators
emit for the same query: namespace ``redash://host[:port]``, name ``[org/]queries/<id>``, so an
asset and the lineage of the task that refreshes it meet in one dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset, AssetWatcher

SCHEME = "redash"
KINDS = ("queries", "dashboards")
_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RedashObjectRef:
    """A query or dashboard on one Redash server, as a ``redash`` URI names it.

    :param netloc: ``host`` or ``host:port``, lower case.
    :param org: the org path, or ``""``.
    :param kind: ``"queries"`` or ``"dashboards"``.
    :param id: the numeric id.
    """

    netloc: str
    org: str
    kind: str
    id: int

    @property
    def namespace(self) -> str:
        """The OpenLineage namespace: ``redash://host[:port]``."""
        return f"{SCHEME}://{self.netloc}"

    @property
    def name(self) -> str:
        """The OpenLineage dataset name: ``[org/]queries/<id>``."""
        return f"{self.org}/{self.kind}/{self.id}" if self.org else f"{self.kind}/{self.id}"

    @property
    def uri(self) -> str:
        """The normalised asset URI."""
        return f"{self.namespace}/{self.name}"


def server_of(base_url: str) -> tuple[str, str]:
    """The ``(netloc, org)`` that names a server in ``redash`` URIs, from its base URL.

    ``https://Redash.Example.com:443/acme`` -> ``("redash.example.com", "acme")``: the host is
    lower-cased and a default port dropped, so two spellings of one server give one name.

    :raises ValueError: when the base URL has no host.
    """
    parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"the base URL {base_url!r} has no host")
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()) else f"{host}:{port}"
    return netloc, parts.path.strip("/")


def parse_uri(uri: str | SplitResult) -> RedashObjectRef:
    """Read a ``redash`` URI.

    :raises ValueError: saying what is wrong: another scheme, no host, a query string, a path that
        is not ``[org/]queries/<id>`` or ``[org/]dashboards/<id>``, an id that is not a positive
        number (a dashboard slug included).
    """
    parts = urlsplit(uri) if isinstance(uri, str) else uri
    shown = uri if isinstance(uri, str) else parts.geturl()
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"{shown!r} is not a {SCHEME}:// URI")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"{shown!r} names no server: expected {SCHEME}://host[:port]/[org/]queries/<id>")
    if parts.query:
        raise ValueError(f"{shown!r} has a query string; a {SCHEME} URI names a query or dashboard by id only")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{shown!r} has a bad port") from None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) not in (2, 3) or segments[-2] not in KINDS:
        raise ValueError(
            f"{shown!r} is not a Redash query or dashboard: expected {SCHEME}://host[:port]/[org/]queries/<id> "
            f"or .../dashboards/<id>"
        )
    org = segments[0] if len(segments) == 3 else ""
    if org and not _ORG.match(org):
        raise ValueError(f"{shown!r} has a bad org path {org!r}")
    kind, raw_id = segments[-2], segments[-1]
    if not raw_id.isdigit() or int(raw_id) < 1:
        raise ValueError(
            f"{shown!r}: the {'query' if kind == 'queries' else 'dashboard'} id must be a positive number, "
            f"got {raw_id!r}" + (" (a slug changes on rename: use the dashboard's id)" if kind == "dashboards" else "")
        )
    netloc = host if port is None else f"{host}:{port}"
    return RedashObjectRef(netloc=netloc, org=org, kind=kind, id=int(raw_id))


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI normaliser for the ``redash`` scheme (provider info ``asset-uris`` ``handler``).

    :return: the normalised URI: lower-case host, no user info, numeric id without leading zeros.
    :raises ValueError: for a URI that names no query or dashboard (see :func:`parse_uri`).
    """
    ref = parse_uri(uri)
    return SplitResult(SCHEME, ref.netloc, "/" + ref.name, "", "")


def object_ref(base_url: str, kind: str, object_id: int) -> RedashObjectRef:
    """The reference of query or dashboard ``object_id`` on the server at ``base_url``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(object_id, bool) or not isinstance(object_id, int) or object_id < 1:
        raise ValueError(f"the id must be a positive whole number, got {object_id!r}")
    netloc, org = server_of(base_url)
    return RedashObjectRef(netloc=netloc, org=org, kind=kind, id=object_id)


def create_asset(
    *, host: str, kind: str = "queries", id: int, org: str = "", extra: dict[str, Any] | None = None
) -> Asset:
    """Airflow's asset factory for the ``redash`` scheme (provider info ``asset-uris`` ``factory``).

    :param host: the server's ``host[:port]``.
    :param kind: ``"queries"`` or ``"dashboards"``.
    :param id: the query's or dashboard's id.
    :param org: the org path, if any.
    """
    from airflow.sdk import Asset

    ref = parse_uri(f"{SCHEME}://{host}/{org + '/' if org else ''}{kind}/{id}")
    return Asset(uri=ref.uri, extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """Airflow's OpenLineage converter for the ``redash`` scheme (``to_openlineage_converter``).

    :return: an OpenLineage ``Dataset`` with namespace ``redash://host[:port]`` and name
        ``[org/]queries/<id>`` (or ``dashboards/<id>``), as the operators name it.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    ref = parse_uri(asset.uri)
    return Dataset(namespace=ref.namespace, name=ref.name)


def _server(dash_conn_id: str, base_url: str | None) -> str:
    """``base_url`` as given, else the connection's (its host only: no key is needed to name a server)."""
    if base_url is not None:
        return base_url
    # Imported here: the hook configuration pulls in Airflow's connection machinery.
    from airflow.sdk import BaseHook

    from airflow_provider_dash.hooks._redash_config import base_url_of_connection

    return base_url_of_connection(BaseHook.get_connection(dash_conn_id))


def redash_query_asset(
    query_id: int,
    dash_conn_id: str = "dash_default",
    *,
    name: str | None = None,
    watchers: list[AssetWatcher] | None = None,
    extra: dict[str, Any] | None = None,
    base_url: str | None = None,
) -> Asset:
    """The ``Asset`` of saved query ``query_id`` on the server of connection ``dash_conn_id``.

    List it in a task's ``outlets`` to have the task emit an asset event when it refreshes the
    query (with the result id and row count in the event's ``extra``), schedule a DAG on it, or
    give it a watcher (:class:`~airflow_provider_dash.triggers.redash_assets.QueryRefreshedTrigger`).
    The connection's host names the server, read when this is called (at DAG parse, as any
    top-level code runs); pass ``base_url`` to name it without a connection lookup.

    :param name: the asset's name (default: its URI).
    :param base_url: the server's base URL as the connection has it (then the connection is not read).
    :raises DashConfigError: when the connection has no usable host.
    """
    server = _server(dash_conn_id, base_url)
    return _asset(object_ref(server, "queries", int(query_id)), name, watchers, extra)


def redash_dashboard_asset(
    dashboard_id: int,
    dash_conn_id: str = "dash_default",
    *,
    name: str | None = None,
    watchers: list[AssetWatcher] | None = None,
    extra: dict[str, Any] | None = None,
    base_url: str | None = None,
) -> Asset:
    """The ``Asset`` of dashboard ``dashboard_id`` (numeric: slugs change on rename); see :func:`redash_query_asset`."""
    server = _server(dash_conn_id, base_url)
    return _asset(object_ref(server, "dashboards", int(dashboard_id)), name, watchers, extra)


def _asset(
    ref: RedashObjectRef, name: str | None, watchers: list[AssetWatcher] | None, extra: dict[str, Any] | None
) -> Asset:
    from airflow.sdk import Asset

    return Asset(name=name or ref.uri, uri=ref.uri, watchers=list(watchers or []), extra=extra)
