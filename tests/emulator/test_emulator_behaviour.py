"""Behaviour of the emulator beyond the recordings: knobs, counters, faults, load, CLI."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests

from airflow_provider_dash.testing import FaultConfig, RedashEmulator

Factory = Callable[..., RedashEmulator]


def _wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)  # polling a condition, bounded by the deadline
    raise AssertionError("condition not reached in time")


def _run(emu: RedashEmulator, query_id: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = requests.post(f"{emu.url}/api/queries/{query_id}/results", headers=emu.headers(), json=body or {"max_age": 0})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _job(emu: RedashEmulator, job_id: str) -> dict[str, Any]:
    r = requests.get(f"{emu.url}/api/jobs/{job_id}", headers=emu.headers())
    assert r.status_code == 200, r.text
    return dict(r.json()["job"])


def _finished(emu: RedashEmulator, job_id: str) -> dict[str, Any]:
    return dict(_wait_for(lambda: (j := _job(emu, job_id))["status"] in (3, 4) and j))


def test_counters_count_routes_executions_and_connections(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    with requests.Session() as s:
        job = s.post(
            f"{emu.url}/api/queries/7/results",
            headers=emu.headers(),
            json={"parameters": {"min_amount": 450}, "max_age": 0},
        ).json()["job"]
        _wait_for(lambda: s.get(f"{emu.url}/api/jobs/{job['id']}", headers=emu.headers()).json()["job"]["status"] == 3)
        s.get(f"{emu.url}/api/jobs/nope", headers=emu.headers())
    assert emu.counters.requests(route="/api/jobs/{job_id}", method="GET", status=200) >= 1
    assert emu.counters.requests(route="/api/jobs/{job_id}", status=500) == 1
    assert emu.counters.executions(7, {"min_amount": 450}) == 1
    assert emu.counters.executions(7, {"min_amount": 1}) == 0
    assert emu.counters.connections_seen == 1  # one keep-alive session
    assert emu.counters.max_in_flight == 1


def test_identical_sql_in_flight_shares_one_job_and_one_execution(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    first = _run(emu, 3)["job"]
    second = _run(emu, 3)["job"]
    assert first["id"] == second["id"]
    assert emu.counters.executions(3) == 1


def test_time_scale_compresses_delays(dash_emulator_factory: Factory) -> None:
    emu = dash_emulator_factory(time_scale=50)  # query 3 sleeps 5 emulated s = 0.1 s
    started = time.monotonic()
    job = _run(emu, 3)["job"]
    assert _finished(emu, job["id"])["status"] == 3
    assert time.monotonic() - started < 3


def test_set_query_delay_keeps_job_started_without_blocking(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.set_query_delay(1, 3600)
    job = _run(emu, 1)["job"]
    _wait_for(lambda: _job(emu, job["id"])["status"] == 2)
    running = _job(emu, job["id"])
    assert isinstance(running["updated_at"], str)
    assert not running["updated_at"].endswith("Z")
    assert requests.get(emu.url + "/ping").text == "PONG."  # the server is not blocked


def test_workers_bound_running_jobs_and_queue_the_rest(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.workers = 1
    emu.set_query_delay(5, 3600)
    busy = _run(emu, 5)["job"]
    waiting = _run(emu, 3)["job"]
    _wait_for(lambda: _job(emu, busy["id"])["status"] == 2)
    assert _job(emu, waiting["id"])["status"] == 1
    emu.workers = 2
    _wait_for(lambda: _job(emu, waiting["id"])["status"] == 2)
    assert requests.delete(f"{emu.url}/api/jobs/{busy['id']}", headers=emu.headers()).status_code == 200
    assert _job(emu, busy["id"])["error"] == "Query cancelled by user."


def test_zero_workers_keep_every_job_queued_until_workers_come_back(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.workers = 0
    job = _run(emu, 3)["job"]
    assert emu.counters.in_flight == 1
    assert _job(emu, job["id"])["status"] == 1  # answered after the event loop had every chance to start it
    assert _job(emu, job["id"])["status"] == 1
    emu.workers = 1
    assert _finished(emu, job["id"])["status"] == 3


def test_max_age_ages_with_time_scale(dash_emulator_factory: Factory) -> None:
    emu = dash_emulator_factory(time_scale=1000)
    result_id = emu.seed_result(5)
    time.sleep(0.05)  # 50 emulated seconds pass
    answer = _run(emu, 5, {"max_age": 10})
    assert "job" in answer
    assert _run(emu, 5, {"max_age": 100000})["query_result"]["id"] in (
        result_id,
        _finished(emu, answer["job"]["id"])["query_result_id"],
    )


def test_finished_jobs_expire_after_job_ttl(dash_emulator_factory: Factory) -> None:
    emu = dash_emulator_factory(time_scale=100, job_ttl=5)
    job = _run(emu, 5)["job"]
    _finished(emu, job["id"])
    _wait_for(lambda: requests.get(f"{emu.url}/api/jobs/{job['id']}", headers=emu.headers()).status_code == 500)


def test_injected_errors_never_execute(dash_emulator_factory: Factory) -> None:
    emu = dash_emulator_factory(
        seed=3,
        faults=FaultConfig(error_rate=1.0, error_statuses=(502, 503), routes=["/api/queries/{query_id}/results"]),
    )
    statuses = {
        requests.post(f"{emu.url}/api/queries/5/results", headers=emu.headers(), json={"max_age": 0}).status_code
        for _ in range(10)
    }
    assert statuses <= {502, 503}
    assert statuses
    assert emu.counters.executions() == 0
    assert requests.get(f"{emu.url}/api/queries/5", headers=emu.headers()).status_code == 200


def test_fault_sequence_repeats_with_the_same_seed(dash_emulator_factory: Factory) -> None:
    runs = []
    for _ in range(2):
        emu = dash_emulator_factory(seed=42, faults=FaultConfig(error_rate=0.5))
        runs.append([requests.get(emu.url + "/api/queries/1", headers=emu.headers()).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 1


def test_rate_limit_every_nth_request_with_retry_after(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.set_faults(rate_limit_every=3, retry_after=7)
    answers = [requests.get(emu.url + "/api/queries/1", headers=emu.headers()) for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 429, 200, 200, 429]
    assert answers[2].headers["Retry-After"] == "7"


def test_latency_is_added(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.set_faults(latency=0.3)
    started = time.monotonic()
    requests.get(emu.url + "/ping")
    assert time.monotonic() - started >= 0.3


def test_latency_rate_slows_a_seeded_share_of_requests(dash_emulator_factory: Factory) -> None:
    def slowed(seed: int) -> list[bool]:
        emu = dash_emulator_factory(seed=seed, demo_data=False)
        emu.set_faults(latency=0.05, latency_rate=0.3, routes=["/ping"])
        flags = []
        with requests.Session() as http:
            for _ in range(40):
                started = time.monotonic()
                http.get(emu.url + "/ping")
                flags.append(time.monotonic() - started >= 0.05)
        assert emu.faults.injected["latency"] == sum(flags)
        return flags

    first = slowed(3)
    assert 4 <= sum(first) <= 20  # about 30% of 40
    assert slowed(3) == first  # seeded: the same requests again


def test_a_request_is_counted_before_its_answer_is_sent(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.add_table(
        "wide",
        [("n", "INTEGER"), ("label", "TEXT")],
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300000) "
        "SELECT n, 'a label long enough to fill the socket buffers ' || n FROM s",
    )
    result_id = emu.seed_result(sql="select n, label from wide")
    route = "/api/query_results/{query_result_id}"
    with requests.get(f"{emu.url}/api/query_results/{result_id}.csv", headers=emu.headers(), stream=True) as r:
        # Headers are in, ~15 MB of body is not (it cannot fit in the socket buffers): still counted.
        assert r.status_code == 200
        assert emu.counters.requests(route=route, status=200) == 1
        assert emu.counters.targets()[-1] == f"/api/query_results/{result_id}.csv"
        assert emu.counters.concurrent_requests == 1  # the answer is indeed still being sent


def test_dropped_connection_gives_client_a_connection_error(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.set_faults(drop_rate=1.0)
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    conn.request("GET", "/api/queries/1", headers=emu.headers())
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.url + "/api/queries/1", headers=emu.headers(), timeout=5)
    assert emu.counters.requests(status=0) >= 2


def test_malformed_next_answers_are_not_json(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.set_faults(malformed_next=2)
    bodies = [requests.get(emu.url + "/api/queries/1", headers=emu.headers()) for _ in range(3)]
    assert [b.status_code for b in bodies] == [200, 200, 200]
    for bad in bodies[:2]:
        with pytest.raises(requests.JSONDecodeError):
            bad.json()
    assert bodies[2].json()["id"] == 1


def test_go_down_refuses_connections_and_come_up_listens_on_same_port(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    port = emu.port
    assert requests.get(emu.url + "/ping").status_code == 200
    emu.go_down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((emu.host, port), timeout=2).close()
    emu.come_up()
    assert emu.port == port
    assert requests.get(emu.url + "/ping").text == "PONG."


def test_thousand_concurrent_pollers_all_answered(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.set_query_delay(3, 3600)
    job_id = _run(emu, 3)["job"]["id"]

    async def main() -> list[int]:
        # 20 clients x 50 connections: one httpx pool of 1000 connections is slow on the client side
        clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=50), timeout=30) for _ in range(20)]
        try:
            answers = await asyncio.gather(
                *(clients[i % 20].get(f"{emu.url}/api/jobs/{job_id}", headers=emu.headers()) for i in range(1000))
            )
        finally:
            for client in clients:
                await client.aclose()
        return [a.status_code for a in answers]

    started = time.monotonic()
    statuses = asyncio.run(main())
    assert statuses == [200] * 1000
    assert time.monotonic() - started < 30
    assert emu.counters.requests(route="/api/jobs/{job_id}", status=200) == 1000


def test_thousand_jobs_finishing_together_all_succeed(dash_emulator_factory: Factory) -> None:
    # Every job stores its result as a new table. Created concurrently from the SQL pool's
    # connections, a few of 1,000 jobs finishing within a second failed with SQLite's "database
    # schema has changed"; schema changes are now serialised on one writer connection.
    emu = dash_emulator_factory(workers=1010, job_ttl=3600)
    for round_ in range(3):  # later rounds run with thousands of result tables already there
        jobs = [emu.jobs.submit(f"SELECT {i} AS n /* round {round_} */", 1, None, {}, 0.2) for i in range(1000)]
        _wait_for(lambda jobs=jobs: not any(job.live for job in jobs), timeout=60)
        failed = {job.error for job in jobs if job.status != 3}
        assert not failed
        assert len({job.result_id for job in jobs}) == 1000


def test_big_result_is_streamed(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    emu.add_table(
        "big",
        [("n", "INTEGER"), ("label", "TEXT")],
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200000) SELECT n, 'row_' || n FROM s",
    )
    qid = emu.add_query("Big", "select n, label from big order by n")
    result_id = _finished(emu, _run(emu, qid)["job"]["id"])["query_result_id"]
    lines = 0
    with requests.get(f"{emu.url}/api/query_results/{result_id}.csv", headers=emu.headers(), stream=True) as r:
        assert r.status_code == 200
        assert r.headers.get("transfer-encoding") == "chunked"
        for chunk in r.iter_content(65536):
            lines += chunk.count(b"\r\n")
    assert lines == 200001
    data = requests.get(f"{emu.url}/api/query_results/{result_id}.json", headers=emu.headers()).json()
    assert len(data["query_result"]["data"]["rows"]) == 200000


def test_add_dashboard_builds_widgets_for_queries(dash_emulator: RedashEmulator) -> None:
    emu = dash_emulator
    qids = [emu.add_query(f"q{i}", f"select {i} as v") for i in range(40)]
    did = emu.add_dashboard("Forty", [*qids, "some notes"])
    widgets = requests.get(f"{emu.url}/api/dashboards/{did}", headers=emu.headers()).json()["widgets"]
    assert [w["visualization"]["query"]["id"] for w in widgets if "visualization" in w] == qids
    assert sum("visualization" not in w for w in widgets) == 1


def test_base_path_prefixes_every_route(dash_emulator_factory: Factory) -> None:
    emu = dash_emulator_factory(base_path="/redash")
    assert emu.url.endswith("/redash")
    assert requests.get(emu.url + "/api/queries/1", headers=emu.headers()).status_code == 200
    assert requests.get(f"http://{emu.host}:{emu.port}/api/queries/1", headers=emu.headers()).status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_starts_and_answers_ping() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from airflow_provider_dash.testing.cli import main; raise SystemExit(main())",
            "--port",
            str(port),
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the readiness line (or EOF on a crash)
        assert first.startswith("Redash emulator listening on http://127.0.0.1:"), (
            first + proc.stderr.read() if proc.poll() is not None else first
        )
        key_line = proc.stdout.readline()
        key = key_line.split(": ", 1)[1].strip()
        url = first.rsplit(" ", 1)[1].strip()
        assert requests.get(url + "/ping", timeout=5).text == "PONG."
        assert (
            requests.get(url + "/api/session", headers={"Authorization": f"Key {key}"}, timeout=5).json()[
                "client_config"
            ]["version"]
            == "26.3.0"
        )
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/queries/1"),
        ("DELETE", "/api/queries/1"),
        ("POST", "/api/queries/1/fork"),
        ("GET", "/api/session"),
    ],
)
def test_a_query_key_off_its_read_and_execute_routes_gets_the_recorded_404(
    dash_emulator: RedashEmulator, method: str, path: str
) -> None:
    # README item 1: a query key used outside its own query is answered like no key (nothing recorded says 403).
    r = requests.request(
        method, f"{dash_emulator.url}{path}", headers=dash_emulator.headers(dash_emulator.query_key(1)), json={}
    )
    assert (r.status_code, r.json()) == (404, {"message": "Couldn't find resource. Please login and try again."})
