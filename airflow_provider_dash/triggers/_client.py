"""The one async HTTP client a trigger keeps for its life (product-neutral): made on first use, closed on every exit.

Mixed into the Redash and PostHog triggers before Airflow's ``BaseTrigger``. Stdlib only: the
client's module (and httpx with it) is imported by each trigger's :meth:`TriggerClientMixin._open_client`,
in the triggerer, never when a DAG file is parsed.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar


class _Closable(Protocol):
    async def aclose(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)


class TriggerClientMixin(Generic[ClientT]):
    """Keeps one client per trigger: :meth:`_get_client` makes it once, :meth:`cleanup` lets it go."""

    _client: ClientT | None = None

    async def _open_client(self) -> ClientT:
        """A new client for this trigger's connection (each trigger says how)."""
        raise NotImplementedError

    async def _get_client(self) -> ClientT:
        if self._client is None:
            self._client = await self._open_client()
        return self._client

    async def _close_client(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def cleanup(self) -> None:
        """Close the HTTP client (called by the triggerer on every exit)."""
        await self._close_client()
