"""QueryRefreshedTrigger run in an event loop against the emulator, as a triggerer runs an asset watcher.

The asset state store the triggerer hands a watcher trigger (Airflow 3.3) is stood in for by a
dict with the store's two async methods; the end-to-end test uses the real one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from airflow_provider_dash import shared_http
from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.triggers.redash_assets import QueryRefreshedTrigger

POLL = 0.05


class MemoryAssetStateStore:
    """The asset state store of one watched asset: ``aget`` and ``aset``, kept in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


def _rebuilt(trigger: QueryRefreshedTrigger, store: MemoryAssetStateStore | None) -> QueryRefreshedTrigger:
    """The trigger as a (restarted) triggerer makes it: from its JSON kwargs, then given the store."""
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_dash.triggers.redash_assets.QueryRefreshedTrigger"
    rebuilt = QueryRefreshedTrigger(**json.loads(json.dumps(kwargs)))
    rebuilt.asset_state_store = store  # type: ignore[assignment]
    return rebuilt


def _polls(emulator: Any) -> int:
    return int(emulator.counters.requests(route="/api/queries/{query_id}", method="GET"))


async def _until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Watch:
    """One running trigger: its next event is awaited in the background."""

    def __init__(self, trigger: QueryRefreshedTrigger) -> None:
        self.trigger = trigger
        self.gen: Any = trigger.run()
        self.pending: asyncio.Future[Any] = asyncio.ensure_future(self.gen.__anext__())

    async def event(self, timeout: float = 15) -> dict[str, Any]:
        event = await asyncio.wait_for(asyncio.shield(self.pending), timeout)
        self.pending = asyncio.ensure_future(self.gen.__anext__())
        return dict(event.payload)

    async def no_event_for_polls(self, emulator: Any, polls: int = 3) -> None:
        """Fail if an event comes while the trigger polls ``polls`` more times."""
        start = _polls(emulator)
        await _until(lambda: _polls(emulator) >= start + polls or self.pending.done(), f"{polls} polls")
        assert not self.pending.done(), self.pending.result() if not self.pending.exception() else self.pending

    async def stop(self) -> None:
        self.pending.cancel()
        await asyncio.gather(self.pending, return_exceptions=True)
        await self.gen.aclose()
        await self.trigger.cleanup()


def _refresh(emulator: Any, query_id: int) -> Awaitable[int]:
    """A refresh by someone else: a new result becomes the query's latest."""
    return asyncio.to_thread(emulator.seed_result, query_id)


def _query(emulator: Any, name: str) -> int:
    return int(emulator.add_query(name, f"select count(*) as n, '{name}' as tag from orders"))


def test_no_event_for_the_result_there_at_start_then_one_per_new_result(dash_emulator: Any, dash_conn_id: str) -> None:
    query_id = _query(dash_emulator, "finance")
    dash_emulator.seed_result(query_id)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(_rebuilt(QueryRefreshedTrigger(query_id, dash_conn_id, poll_interval=POLL), None))
        await watch.no_event_for_polls(dash_emulator)
        first = await _refresh(dash_emulator, query_id)
        events = [await watch.event()]
        await watch.no_event_for_polls(dash_emulator)
        second = await _refresh(dash_emulator, query_id)
        events.append(await watch.event())
        await watch.stop()
        assert [e["query_result_id"] for e in events] == [first, second]
        return events

    events = asyncio.run(scenario())
    assert events[1] == {
        "query_id": query_id,
        "query_result_id": events[1]["query_result_id"],
        "previous_result_id": events[0]["query_result_id"],
    }


def test_fires_when_redash_own_schedule_refreshes_the_query(dash_emulator: Any, dash_conn_id: str) -> None:
    query_id = _query(dash_emulator, "scheduled")
    dash_emulator.seed_result(query_id)
    dash_emulator.objects.queries[query_id].schedule = {"interval": 3600}  # next run in an emulated hour

    async def scenario() -> dict[str, Any]:
        watch = Watch(QueryRefreshedTrigger(query_id, dash_conn_id, poll_interval=POLL))
        await watch.no_event_for_polls(dash_emulator)
        dash_emulator.clock.advance(3600)  # the schedule is due: Redash's scheduler runs the query
        event = await watch.event()
        await watch.no_event_for_polls(dash_emulator)  # not due again for an hour
        await watch.stop()
        return event

    event = asyncio.run(scenario())

    assert event["query_result_id"] == dash_emulator.objects.queries[query_id].latest_query_data_id
    assert dash_emulator.counters.executions(query_id) == 1  # the scheduler ran it, once


def test_a_restarted_trigger_neither_repeats_an_event_nor_misses_a_refresh_made_while_down(
    dash_emulator: Any, dash_conn_id: str
) -> None:
    query_id = _query(dash_emulator, "restart")
    dash_emulator.seed_result(query_id)
    store = MemoryAssetStateStore()
    original = QueryRefreshedTrigger(query_id, dash_conn_id, poll_interval=POLL)

    async def scenario() -> list[int]:
        announced = []
        first = Watch(_rebuilt(original, store))
        await first.no_event_for_polls(dash_emulator)
        await _refresh(dash_emulator, query_id)
        announced.append((await first.event())["query_result_id"])
        await first.stop()  # the triggerer goes away

        second = Watch(_rebuilt(original, store))  # ... and a new one runs the trigger again
        await second.no_event_for_polls(dash_emulator)  # the announced result is not announced again
        await second.stop()

        refreshed_while_down = await _refresh(dash_emulator, query_id)
        third = Watch(_rebuilt(original, store))
        announced.append((await third.event())["query_result_id"])
        await third.no_event_for_polls(dash_emulator)
        await third.stop()
        assert announced[-1] == refreshed_while_down
        return announced

    announced = asyncio.run(scenario())

    assert len(set(announced)) == 2
    assert store.values == {f"redash_query_{query_id}_last_result_id": announced[-1]}


def test_tolerates_failed_polls_below_the_limit(dash_emulator: Any, dash_connection: Any) -> None:
    conn_id = dash_connection("dash_watch", retries=0)
    query_id = _query(dash_emulator, "flaky")
    dash_emulator.seed_result(query_id)
    failed = lambda: dash_emulator.counters.requests(route="/api/queries/{query_id}", status=500)  # noqa: E731

    async def scenario() -> dict[str, Any]:
        watch = Watch(QueryRefreshedTrigger(query_id, conn_id, poll_interval=0.2, max_consecutive_failures=4))
        await watch.no_event_for_polls(dash_emulator, 1)
        dash_emulator.set_faults(error_rate=1.0, error_statuses=(500,), routes=["/api/queries/{query_id}"])
        await _until(lambda: failed() >= 2, "two failed polls")
        dash_emulator.clear_faults()
        new = await _refresh(dash_emulator, query_id)
        event = await watch.event()
        await watch.stop()
        assert event["query_result_id"] == new
        return event

    asyncio.run(scenario())


def test_fails_loudly_after_the_limit_of_failed_polls_in_a_row(dash_emulator: Any, dash_connection: Any) -> None:
    conn_id = dash_connection("dash_watch", retries=0)
    query_id = _query(dash_emulator, "down")
    dash_emulator.set_faults(error_rate=1.0, error_statuses=(503,), routes=["/api/queries/{query_id}"])
    trigger = QueryRefreshedTrigger(query_id, conn_id, poll_interval=0.01, max_consecutive_failures=3)

    async def scenario() -> None:
        gen: Any = trigger.run()
        try:
            await asyncio.wait_for(gen.__anext__(), 15)
        finally:
            await gen.aclose()

    with pytest.raises(DashError, match=f"Watching query {query_id} on .* failed 3 polls in a row") as caught:
        asyncio.run(scenario())
    assert dash_emulator.user_key not in str(caught.value)
    assert dash_emulator.counters.requests(route="/api/queries/{query_id}", status=503) == 3


def test_watchers_of_one_server_share_one_http_client(dash_emulator: Any, dash_conn_id: str) -> None:
    queries = [_query(dash_emulator, f"shared{i}") for i in range(3)]

    async def scenario() -> int:
        watches = [Watch(QueryRefreshedTrigger(q, dash_conn_id, poll_interval=POLL)) for q in queries]
        await _until(lambda: _polls(dash_emulator) >= 2 * len(queries), "every watcher polling")
        open_clients = shared_http.open_clients()
        for watch in watches:
            await watch.stop()
        assert shared_http.open_clients() == 0
        return open_clients

    assert asyncio.run(scenario()) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query_id": 0},
        {"query_id": "7"},
        {"query_id": 7, "poll_interval": 0},
        {"query_id": 7, "max_consecutive_failures": 0},
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(DashConfigError):
        QueryRefreshedTrigger(**kwargs)
