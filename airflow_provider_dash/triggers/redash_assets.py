"""QueryRefreshedTrigger: an asset watcher's trigger that fires when a Redash query gets a new result.

Anything that refreshes a saved query without parameters moves its ``latest_query_data_id``:
Redash's own schedule (``query_scheduled_refresh.json``), a user pressing *Refresh*, another
pipeline. The trigger polls ``GET /api/queries/<id>`` at the user's interval over the triggerer's
one shared HTTP client for that server (:mod:`airflow_provider_dash.shared_http`) and yields one
event per new result id::

    {"query_id": 7, "query_result_id": 74, "previous_result_id": 73}

**Restarts.** A triggerer rebuilds the trigger from its keyword arguments only, which never change,
so the last result id seen cannot live there. It lives in Airflow 3.3's asset state store: the
triggerer hands each watcher trigger the store of the assets it watches (``asset_state_store``).
The trigger writes the new id there *before* it yields the event, so a restarted trigger never
fires again for a result it already announced (a crash between the write and the event reaching
the database loses that one event instead: never a duplicate). On start it reads the stored id;
a result that came while the triggerer was down is then announced once. Without a store (an Airflow
before 3.3, the trigger run outside a watcher, or one trigger watching several assets, whose store
needs an asset named) the first result seen is the baseline, and a warning says so.

**Failures.** Each poll already retries transient errors (the connection's ``retries``). A poll
that still fails is logged and the next one is tried after the interval; after
``max_consecutive_failures`` failed polls in a row the trigger raises, naming the query, the
server and the last error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.polling import check_poll_interval
from airflow_provider_dash.triggers._client import TriggerClientMixin

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_async import DashAsyncClient

#: Seconds between two looks at the query unless the user says otherwise.
DEFAULT_WATCH_INTERVAL = 60.0
#: Polls in a row that may fail (each after its own retries) before the trigger gives up.
DEFAULT_MAX_CONSECUTIVE_FAILURES = 5

_UNSEEN = object()


class QueryRefreshedTrigger(TriggerClientMixin["DashAsyncClient"], BaseEventTrigger):
    """Fire an asset event each time saved query ``query_id`` gets a new latest result.

    Use it in an ``AssetWatcher`` of the query's asset::

        Asset(
            "finance_totals",
            uri="redash://redash.example.com/queries/7",
            watchers=[AssetWatcher("finance_totals_refreshed", QueryRefreshedTrigger(query_id=7))],
        )

    No event for the result that is there when the trigger first starts; one event per new result
    after that, whoever refreshed the query (Redash's schedule included). Runs with parameters do
    not count: Redash does not make them the query's latest result.

    :param query_id: the saved query to watch.
    :param dash_conn_id: the Airflow connection of the server.
    :param poll_interval: seconds between two polls.
    :param max_consecutive_failures: failed polls in a row tolerated; the next one raises.
    :raises DashConfigError: for a bad argument.
    """

    def __init__(
        self,
        query_id: int,
        dash_conn_id: str = "dash_default",
        poll_interval: float = DEFAULT_WATCH_INTERVAL,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        super().__init__()
        if isinstance(query_id, bool) or not isinstance(query_id, int) or query_id < 1:
            raise DashConfigError(f"query_id must be a positive whole number, got {query_id!r}")
        tolerated = max_consecutive_failures
        if isinstance(tolerated, bool) or not isinstance(tolerated, int) or tolerated < 1:
            raise DashConfigError(f"max_consecutive_failures must be a whole number >= 1, got {tolerated!r}")
        self.query_id = query_id
        self.dash_conn_id = dash_conn_id
        self.poll_interval = check_poll_interval(poll_interval)
        self.max_consecutive_failures = max_consecutive_failures
        self._store_broken = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and plain-JSON keyword arguments (the connection id, never its key)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "query_id": self.query_id,
                "dash_conn_id": self.dash_conn_id,
                "poll_interval": self.poll_interval,
                "max_consecutive_failures": self.max_consecutive_failures,
            },
        )

    # ------------------------------------------------------------------ the last result announced

    @property
    def _store_key(self) -> str:
        return f"redash_query_{self.query_id}_last_result_id"

    async def _stored_result_id(self) -> Any:
        """The result id announced last (by this trigger before a restart), or ``_UNSEEN``."""
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return _UNSEEN
        try:
            value = await store.aget(self._store_key)
        except Exception as error:
            self._store_failed(error)
            return _UNSEEN
        return value if isinstance(value, int) and not isinstance(value, bool) else _UNSEEN

    async def _remember(self, result_id: int) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None or self._store_broken:
            return
        try:
            await store.aset(self._store_key, result_id)
        except Exception as error:
            self._store_failed(error)

    def _store_failed(self, error: Exception) -> None:
        if not self._store_broken:
            self._store_broken = True
            self.log.warning(
                "Query %s watcher: the asset state store cannot be used (%s: %s); the last result announced is "
                "kept in memory only, so a restarted triggerer starts from the result it finds then",
                self.query_id,
                type(error).__name__,
                error,
            )

    # ------------------------------------------------------------------ polling

    async def _open_client(self) -> DashAsyncClient:
        # httpx comes with the client: imported in the triggerer only, never on a DAG parse.
        from airflow_provider_dash.hooks.redash_async import DashAsyncClient

        return await DashAsyncClient.from_conn_id(self.dash_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the query forever; yield one event per new latest result.

        :raises DashError: after ``max_consecutive_failures`` failed polls in a row.
        """
        try:
            client = await self._get_client()
            seen = await self._stored_result_id()
            failures = 0
            while True:
                try:
                    latest = (await client.get_query(self.query_id)).latest_query_data_id
                except DashError as error:
                    failures += 1
                    if failures >= self.max_consecutive_failures:
                        message = (
                            f"Watching query {self.query_id} on {client.config.base_url} failed "
                            f"{failures} polls in a row; the last error: {error}"
                        )
                        self.log.error("%s", message)
                        raise DashError(message) from error
                    self.log.warning(
                        "Query %s watcher: poll failed (%d of %d tolerated in a row): %s",
                        self.query_id,
                        failures,
                        self.max_consecutive_failures - 1,
                        error,
                    )
                else:
                    failures = 0
                    if seen is _UNSEEN:
                        # First look ever: the result already there is the baseline, not news.
                        seen = latest
                        if latest is not None:
                            await self._remember(latest)
                        self.log.info("Query %s watcher: starting from result %s", self.query_id, latest)
                    elif latest is not None and latest != seen:
                        previous, seen = seen, latest
                        await self._remember(latest)  # before the event: a restart never repeats it
                        self.log.info("Query %s has a new result %s (was %s)", self.query_id, latest, previous)
                        yield TriggerEvent(
                            {"query_id": self.query_id, "query_result_id": latest, "previous_result_id": previous}
                        )
                await asyncio.sleep(self.poll_interval)
        finally:
            await self._close_client()
