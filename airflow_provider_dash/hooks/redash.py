"""DashHook: the Airflow hook for Redash-compatible servers, the Airflow face of :class:`RedashClient`.

Every Redash route and workflow lives in the Airflow-free
:class:`~airflow_provider_dash.hooks.redash_client.RedashClient`; the hook adds only what Airflow
needs: the configuration read from an Airflow connection, the connection form, and Airflow's logger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_dash import _UI_FIELD_BEHAVIOUR
from airflow_provider_dash.connections import hook_field_behaviour
from airflow_provider_dash.hooks._redash_config import ConnectionConfig, config_from_connection
from airflow_provider_dash.hooks.redash_client import RedashClient

if TYPE_CHECKING:
    import requests


class DashHook(BaseHook, RedashClient):
    """Talk to a Redash-compatible server: queries, jobs, results, dashboards.

    One ``requests.Session`` per hook, created on first use. Every call retries connection errors,
    timeouts, 429 and 5xx with backoff (extra ``retries``, default 5) and raises a
    :class:`~airflow_provider_dash.exceptions.DashError` subclass naming the method, the URL (never
    the key) and what was asked for. Every method is :class:`RedashClient`'s.

    :param dash_conn_id: the Airflow connection: host = base URL, password = API key, extras
        ``verify``, ``timeout``, ``retries`` and ``query_id`` (for a query API key).
    """

    conn_name_attr = "dash_conn_id"
    default_conn_name = "dash_default"
    conn_type = "dash"
    hook_name = "Redash"

    def __init__(self, dash_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        # BaseHook's __init__ chain ends in RedashClient's (no configuration: read from the connection).
        super().__init__(**kwargs)
        self.dash_conn_id = dash_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout for Airflow < 3.2 (newer versions read ``ui-field-behaviour`` from provider info).

        :return: the provider info's declaration, with the keys spelled the way the hook method spells them.
        """
        return hook_field_behaviour(_UI_FIELD_BEHAVIOUR)

    def _load_config(self) -> ConnectionConfig:
        """Read and normalise the Airflow connection ``dash_conn_id`` (once per hook).

        :raises DashConfigError: when the connection lacks a host or key, or has a bad extra.
        """
        return config_from_connection(self.get_connection(self.dash_conn_id))

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session`` (created on first use, reused for every call)."""
        return RedashClient.get_conn(self)
