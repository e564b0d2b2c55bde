"""One HTTP client per triggerer (event loop) and server: triggers share a pool, keys travel per request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_dash import shared_http
from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.hooks.redash import DashHook
from airflow_provider_dash.hooks.redash_async import DashAsyncClient
from airflow_provider_dash.triggers.redash import JobTrigger


def test_clients_of_one_server_share_one_pool_and_keep_their_own_keys(dash_emulator: Any, dash_connection: Any) -> None:
    admin = dash_connection("dash_admin")
    plain = dash_connection("dash_plain", key=dash_emulator.plain_user_key)

    async def main() -> tuple[Any, ...]:
        async with (
            await DashAsyncClient.from_conn_id(admin) as first,
            await DashAsyncClient.from_conn_id(plain) as second,
        ):
            pools = {id(await first._http()), id(await second._http())}
            open_while_used = shared_http.open_clients()
            # A request needing the admin's key, and the plain user's read of the same object.
            as_admin = (await first._send(_data_source(), want_json=True))[1]
            as_plain = (await second._send(_data_source(), want_json=True))[1]
        return pools, open_while_used, as_admin, as_plain, shared_http.open_clients()

    pools, open_while_used, as_admin, as_plain, open_after = asyncio.run(main())

    assert len(pools) == 1
    assert open_while_used == 1
    assert "options" in as_admin  # the admin's key went with the admin's request ...
    assert "options" not in as_plain  # ... and the plain user's with its own, over the same pool
    assert open_after == 0  # the last user closed it


def _data_source() -> Any:
    from airflow_provider_dash.hooks._redash_routes import Route

    return Route("GET", "api/data_sources/{data_source_id}").request("data source 1", data_source_id=1)


def test_many_triggers_in_one_loop_open_no_more_connections_than_the_in_flight_cap(
    dash_emulator: Any, dash_conn_id: str
) -> None:
    count = 200
    with DashHook(dash_conn_id) as hook:
        dash_emulator.workers = 0  # every job waits in the queue: the triggers keep polling
        jobs = [hook.execute_sql(f"select {n} as n", 1).job for n in range(count)]
    assert all(job is not None for job in jobs)
    dash_emulator.counters.reset()

    async def main() -> list[Any]:
        triggers = [JobTrigger([job.id], dash_conn_id=dash_conn_id, poll_interval=0.2) for job in jobs if job]
        waits = [asyncio.ensure_future(trigger.run().__anext__()) for trigger in triggers]
        while dash_emulator.counters.requests(route="/api/jobs/{job_id}") < 3 * count:
            await asyncio.sleep(0.05)  # the triggers poll: wait until each has polled a few times
        dash_emulator.workers = 4  # the queue moves: every trigger sees its job finish
        events = await asyncio.gather(*waits)
        for trigger in triggers:
            await trigger.cleanup()
        return events

    events = asyncio.run(main())

    assert [event.payload["status"] for event in events] == ["success"] * count
    assert dash_emulator.counters.connections_seen <= shared_http.MAX_CONCURRENT_REQUESTS + 4


def test_the_cap_is_read_from_the_airflow_option_and_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    env = "AIRFLOW__DASH__MAX_REQUESTS_IN_FLIGHT"
    monkeypatch.delenv(env, raising=False)
    assert shared_http.requests_in_flight() == shared_http.MAX_CONCURRENT_REQUESTS
    monkeypatch.setenv(env, "12")
    assert shared_http.requests_in_flight() == 12

    async def gate_size() -> int:
        return shared_http.gate("http://127.0.0.1:9/cap-test")._value

    assert asyncio.run(gate_size()) == 12
    for bad in ("0", "65", "eight", "-3"):
        monkeypatch.setenv(env, bad)
        with pytest.raises(
            DashConfigError, match=rf"\[dash\] max_requests_in_flight must be a whole number from 1 to 64.*{bad!r}"
        ):
            shared_http.requests_in_flight()


def test_a_ca_directory_in_verify_is_read_as_a_directory(tmp_path: Any) -> None:
    from pathlib import Path

    import certifi

    (tmp_path / "ca.pem").write_text(Path(certifi.where()).read_text())
    context = shared_http._tls_context(str(tmp_path))  # a file would be read at once; a directory on demand
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert shared_http._tls_context(certifi.where()).cert_store_stats()["x509_ca"] > 0
