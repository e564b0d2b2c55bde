"""Using an Airflow connection the same way in every product's hook and client, product-neutral.

The connection form as the hook method spells it, the lookup from an event loop that does not
block it, and the warning when a connection turns TLS verification off. Reading the connection's
fields is :mod:`airflow_provider_dash.conn_fields`'s job. Airflow is imported only inside the lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


def hook_field_behaviour(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """The connection form a hook's ``get_ui_field_behaviour`` returns (Airflow < 3.2 reads it there).

    :param declaration: the provider info's ``ui-field-behaviour`` (keys spelled ``hidden-fields``).
    :return: a copy with the keys spelled the way the hook method spells them (``hidden_fields``).
    """
    return {
        "hidden_fields": list(declaration["hidden-fields"]),
        "relabeling": dict(declaration["relabeling"]),
        "placeholders": dict(declaration["placeholders"]),
    }


async def aget_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``, looked up without blocking the event loop.

    ``BaseHook.aget_connection`` where Airflow has it, else the sync lookup in a worker thread.

    :return: the Airflow ``Connection``.
    :raises AirflowNotFoundException: when there is no such connection.
    """
    from airflow.sdk import BaseHook

    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async  # Airflow versions without the async lookup

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class _TlsConfig(Protocol):
    @property
    def conn_id(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def verify(self) -> bool | str: ...


def warn_if_verification_off(log: Any, config: _TlsConfig) -> None:
    """Log a warning when the connection's extra ``verify`` is false (anyone on the path can read the key).

    :param log: the hook's or client's logger; called once, when its HTTP client is made.
    """
    if config.verify is False:
        log.warning(
            "TLS certificate verification is OFF for connection %r (%s): extra verify is false, so "
            "anyone on the path can read the API key. Prefer a CA bundle path in verify.",
            config.conn_id,
            config.base_url,
        )
