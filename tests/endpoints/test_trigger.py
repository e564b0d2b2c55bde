"""EndpointRunTrigger: plain-JSON kwargs, held runs on their own shared pool (not 32 at a time), and a
restarted triggerer that neither loses the run nor computes it twice."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from dag_helpers import run_trigger

from airflow_provider_dash import shared_http
from airflow_provider_dash.exceptions import DashApiError
from airflow_provider_dash.triggers.posthog import RESUME_AFTER, EndpointRunTrigger

from .helpers import QUERY, RUN, requests, wait_for


def test_kwargs_are_plain_json_without_the_key(ph: Any, ph_conn_id: str) -> None:
    trigger = EndpointRunTrigger(
        "daily_signups", ph_conn_id, client_query_id="q1", variables={"country": "DE"}, end_time=time.time() + 60
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_dash.triggers.posthog.EndpointRunTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert ph.personal_key not in json.dumps(kwargs) + repr(trigger)
    assert EndpointRunTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_event_carries_a_summary_not_the_rows(ph: Any, ph_conn_id: str) -> None:
    event = run_trigger(
        EndpointRunTrigger("events_export", ph_conn_id, client_query_id="q2", fetch_all=True, page_size=2500)
    )

    assert event["status"] == "success"
    assert event["summary"]["row_count"] == 10_000
    assert event["summary"]["pages"] == 4
    assert "rows" not in event["summary"]
    assert len(json.dumps(event)) < 2000


def test_a_refused_run_ends_with_an_error_event_keeping_status_code_and_field(ph: Any, ph_conn_id: str) -> None:
    event = run_trigger(EndpointRunTrigger("daily_signups", ph_conn_id, client_query_id="q3", variables={"x": 1}))

    assert event["status"] == "error"
    assert "Unknown variable(s): x" in event["message"]
    assert event["error"] == {"status": 400, "code": "invalid_input", "field": "variables"}


def test_held_runs_of_one_loop_go_together_on_one_pool_of_their_own(ph: Any, ph_conn_id: str) -> None:
    runs = 40  # more than the default gate of 32 short requests
    ph.limits.concurrency = 1000
    ph.set_endpoint_delay("daily_signups", 1.0)
    triggers = [
        EndpointRunTrigger("daily_signups", ph_conn_id, client_query_id=f"q-{i}", variables={"country": str(i)})
        for i in range(runs)
    ]

    async def main() -> tuple[list[Any], int]:
        async def first(trigger: EndpointRunTrigger) -> Any:
            agen = trigger.run()
            try:
                return await agen.__anext__()
            finally:
                await agen.aclose()

        events = await asyncio.gather(*(first(t) for t in triggers))
        return list(events), shared_http.open_clients()

    events, open_after = asyncio.run(main())

    assert [e.payload["status"] for e in events] == ["success"] * runs
    assert ph.counters.max_in_flight == runs  # all held on the server at once, not 32 at a time
    assert ph.counters.connections_seen <= runs + 2  # one shared pool: a connection per held run, no more
    assert open_after == 0


def test_a_resumed_trigger_cancels_the_earlier_attempt_and_computes_once(ph: Any, ph_conn_id: str, hook: Any) -> None:
    ph.set_endpoint_delay("daily_signups", 2.0)
    orphan: list[Any] = []

    def earlier_attempt() -> None:  # the run a crashed triggerer left held on the server
        try:
            orphan.append(hook.run_endpoint("daily_signups", client_query_id="q-restart"))
        except DashApiError as error:
            orphan.append(error)

    thread = threading.Thread(target=earlier_attempt, daemon=True)
    thread.start()
    wait_for(lambda: "q-restart" in ph.in_flight())
    resumed = EndpointRunTrigger(
        "daily_signups", ph_conn_id, client_query_id="q-restart", deferred_at=time.time() - RESUME_AFTER - 30
    )

    event = run_trigger(resumed)
    thread.join(10)

    assert event["status"] == "success"
    assert isinstance(orphan[0], DashApiError)  # the earlier attempt was cancelled ...
    assert requests(ph, QUERY, "DELETE", 200) == 1
    assert ph.counters.executions("daily_signups") == 1  # ... so the run was computed once
    assert ph.counters.max_in_flight == 1  # and never twice at the same time


def test_a_resumed_force_run_takes_the_answer_its_earlier_attempt_finished(ph: Any, ph_conn_id: str, hook: Any) -> None:
    deferred_at = time.time() - RESUME_AFTER - 30
    hook.run_endpoint("daily_signups", refresh="force", client_query_id="q-done")  # finished before the crash

    event = run_trigger(
        EndpointRunTrigger(
            "daily_signups", ph_conn_id, client_query_id="q-done", refresh="force", deferred_at=deferred_at
        )
    )

    assert event["status"] == "success"
    assert event["summary"]["is_cached"] is True
    assert ph.counters.executions("daily_signups") == 1  # not computed again


def test_a_new_force_run_does_not_take_an_older_cached_answer(ph: Any, ph_conn_id: str, hook: Any) -> None:
    hook.run_endpoint("daily_signups")  # cached before the task started

    event = run_trigger(EndpointRunTrigger("daily_signups", ph_conn_id, client_query_id="q-new", refresh="force"))

    assert event["status"] == "success"
    assert event["summary"]["is_cached"] is False
    assert ph.counters.executions("daily_signups") == 2
    assert requests(ph, RUN, "POST", 200) == 3  # the first run, the cache read, the forced run
    assert requests(ph, QUERY, "DELETE") == 0  # a trigger that is not resumed cancels nothing
