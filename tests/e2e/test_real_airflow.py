"""End to end: the example DAGs on a real Airflow (api-server, scheduler, dag-processor, triggerer,
LocalExecutor, SQLite) on loopback, against the Redash emulator running in this process.

What only a real deployment proves: the DAG files parse in the dag-processor, the tasks run in
LocalExecutor workers, ``JobTrigger`` serialises, is imported and run by the triggerer process
(whose connection lookup goes through Airflow's async API), and the task resumes in a worker with
the trigger's event. The second test crashes the triggerer while a task is deferred and checks that
a restarted triggerer finishes the job. The third schedules a DAG on a Redash query's asset, watched
by ``QueryRefreshedTrigger`` in the triggerer, and lets the emulator's own scheduler refresh the query.
The fourth runs the PostHog example: its endpoint run is deferred, and the real triggerer holds the
run's request open until the PostHog emulator answers.

One cluster serves both tests (starting Airflow is most of the cost). Every process is stopped at
the end, and on failure the tail of every component's log is printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .airflow_cluster import AirflowCluster, TaskRunObservation, poll_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
EXAMPLE_DAG_IDS = (
    "example_dash_scheduled_refresh",
    "example_dash_refresh_dashboard",
    "example_dash_submit_and_sense",
    "example_dash_export_on_refresh",
    "example_posthog_endpoint",
)
DAG_ID = "example_dash_submit_and_sense"
SENSOR = "wait_for_job"
SLOW_QUERY_ID = 3
JOB_TRIGGER = "airflow_provider_dash.triggers.redash.JobTrigger"
FINANCE_DAG = "example_dash_export_on_refresh"
#: Redash refreshes the finance query every emulated hour; the test moves the emulator's clock.
FINANCE_SCHEDULE = 3600
POSTHOG_DAG_ID = "example_posthog_endpoint"
ENDPOINT_TRIGGER = "airflow_provider_dash.triggers.posthog.EndpointRunTrigger"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    """The Redash emulator with its demo data, serving from this process."""
    from airflow_provider_dash.testing import RedashEmulator

    with RedashEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def finance_query(emulator: Any) -> int:
    """A finance query with a result, scheduled in Redash (not due before the test moves the clock)."""
    query_id = int(emulator.add_query("finance totals", "select region, sum(amount) as total from orders group by 1"))
    emulator.seed_result(query_id)
    emulator.objects.queries[query_id].schedule = {"interval": FINANCE_SCHEDULE}
    return query_id


@pytest.fixture(scope="module")
def posthog() -> Iterator[Any]:
    """The PostHog emulator with its demo data, serving from this process."""
    from airflow_provider_dash.testing.posthog import PostHogEmulator
    from airflow_provider_dash.testing.posthog.demo import seed_demo

    with PostHogEmulator() as emu:
        yield seed_demo(emu)


@pytest.fixture(scope="module")
def cluster(
    emulator: Any, finance_query: int, posthog: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowCluster]:
    """A running Airflow whose ``dash_default`` and ``posthog_default`` connections point at the emulators."""
    home = tmp_path_factory.mktemp("airflow-home")
    conn = {"conn_type": "dash", "host": emulator.url, "password": emulator.user_key}
    posthog_conn = {
        "conn_type": "posthog",
        "host": posthog.url,
        "password": posthog.personal_key,
        "extra": {"project_id": posthog.project_id},
    }
    env = {
        "AIRFLOW_CONN_DASH_DEFAULT": json.dumps(conn),
        "AIRFLOW_CONN_POSTHOG_DEFAULT": json.dumps(posthog_conn),
        "DASH_EXAMPLE_EXPORT_DIR": str(home / "exports"),
        "DASH_EXAMPLE_FINANCE_QUERY_ID": str(finance_query),
        "DASH_EXAMPLE_WATCH_INTERVAL": "1",
        # An asset's watchers start when the file is parsed after its DAG is unpaused: parse often.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
    }
    with AirflowCluster(home, EXAMPLE_DAGS, extra_env=env) as running:
        try:
            running.migrate()
            running.start_all()
            running.wait_until_healthy(timeout=150)
            for dag_id in EXAMPLE_DAG_IDS:
                running.wait_for_dag(dag_id, timeout=90)
        except BaseException:
            print(running.log_tails())
            raise
        yield running


@pytest.fixture
def report_logs_on_failure(request: pytest.FixtureRequest, cluster: AirflowCluster) -> Iterator[None]:
    """Print the tail of every Airflow log when the test fails."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(cluster.log_tails())


def _fired_events(cluster: AirflowCluster, run_id: str, triggerer_job_id: int) -> list[dict[str, Any]]:
    events = cluster.trigger_log_events(DAG_ID, run_id, SENSOR).get(triggerer_job_id, [])
    return [e for e in events if e.get("event") == "Trigger fired event"]


def _job_polls(emulator: Any) -> int:
    table = emulator.counters.request_table()
    return sum(n for (route, method, _), n in table.items() if route.endswith("/jobs/{job_id}") and method == "GET")


def _assert_run_succeeded(observation: TaskRunObservation) -> None:
    assert observation.run_state == "success", observation
    assert observation.final_states == {"submit": "success", SENSOR: "success", "count_rows": "success"}, observation


@pytest.mark.usefixtures("report_logs_on_failure")
def test_example_dags_parse_in_the_dag_processor_without_import_errors(cluster: AirflowCluster) -> None:
    assert cluster.import_errors() == []
    for dag_id in EXAMPLE_DAG_IDS:
        assert cluster.wait_for_dag(dag_id, timeout=5)["dag_id"] == dag_id


@pytest.mark.usefixtures("report_logs_on_failure")
def test_sensor_defers_to_the_real_triggerer_and_the_run_succeeds(cluster: AirflowCluster, emulator: Any) -> None:
    # Long enough that the sensor certainly finds the job still running and defers, even when
    # a LocalExecutor worker takes seconds to start on a busy machine.
    emulator.set_query_delay(SLOW_QUERY_ID, 20)
    polls_before = _job_polls(emulator)

    cluster.unpause(DAG_ID)
    run_id = cluster.trigger(DAG_ID)
    observation = cluster.watch_run(DAG_ID, run_id, timeout=180)

    _assert_run_succeeded(observation)
    assert "deferred" in observation.seen_states[SENSOR], observation.seen_states
    assert observation.trigger_classpaths[SENSOR] == {JOB_TRIGGER}
    (triggerer_job_id,) = observation.triggerer_job_ids[SENSOR]
    fired = _fired_events(cluster, run_id, triggerer_job_id)
    assert len(fired) == 1, cluster.trigger_log_events(DAG_ID, run_id, SENSOR)
    assert "success" in fired[0]["result"]
    # the sensor's one check in the worker, then the trigger's polls from the triggerer
    assert _job_polls(emulator) - polls_before >= 2


@pytest.mark.usefixtures("report_logs_on_failure")
def test_task_deferred_when_the_triggerer_crashes_succeeds_after_a_restart(
    cluster: AirflowCluster, emulator: Any
) -> None:
    # The job outlives the crash and the restart by a wide margin (a new triggerer takes a dead
    # one's triggers over once its heartbeat is older than the health-check threshold), and the
    # job's state is checked at the takeover, so the test fails if the job had finished by then.
    emulator.set_query_delay(SLOW_QUERY_ID, 45)
    crash: dict[str, Any] = {}

    def trigger_started(triggerer_job_id: int) -> bool:
        events = cluster.trigger_log_events(DAG_ID, run_id, SENSOR).get(triggerer_job_id, [])
        return any(str(e.get("event", "")).endswith(" starting") for e in events)

    def crash_triggerer_once_running(observation: TaskRunObservation) -> None:
        current = observation.current_triggerer(SENSOR)
        if "killed_job" not in crash:
            if observation.deferred(SENSOR) and current is not None and trigger_started(current):
                crash["killed_job"] = current
                crash["killed_at"] = time.time()
                cluster.kill("triggerer")
                cluster.start("triggerer")
        elif "new_job" not in crash and current not in (None, crash["killed_job"]):
            crash["new_job"] = current
            crash["takeover_after"] = round(time.time() - crash["killed_at"], 1)
            crash["jobs_in_flight_at_takeover"] = emulator.counters.in_flight
            crash["still_deferred_at_takeover"] = observation.deferred(SENSOR)

    cluster.unpause(DAG_ID)
    run_id = cluster.trigger(DAG_ID)
    observation = cluster.watch_run(DAG_ID, run_id, timeout=200, on_poll=crash_triggerer_once_running)

    print(f"triggerer crash: {crash}")
    assert "killed_job" in crash, "the trigger never ran, so the triggerer was not crashed"
    assert "new_job" in crash, f"no other triggerer took the trigger over: {observation}"
    assert crash["still_deferred_at_takeover"]
    assert crash["jobs_in_flight_at_takeover"] >= 1, "the job had finished before the takeover"
    _assert_run_succeeded(observation)
    assert observation.triggerer_job_ids[SENSOR] == [crash["killed_job"], crash["new_job"]]
    assert _fired_events(cluster, run_id, crash["killed_job"]) == []
    (fired,) = _fired_events(cluster, run_id, crash["new_job"])
    assert "success" in fired["result"]
    # The restarted triggerer is a healthy member of the cluster again.
    cluster.wait_until_healthy(timeout=30, triggerer_heartbeat_after=crash["killed_at"])


def _watcher_polls(emulator: Any) -> int:
    # Nothing else reads saved queries while this test runs: the export reads results only.
    return int(emulator.counters.requests(route="/api/queries/{query_id}", method="GET"))


def _wait_for_polls(cluster: AirflowCluster, emulator: Any, polls: int, what: str, timeout: float = 90) -> None:
    start = _watcher_polls(emulator)
    poll_until(
        lambda: True if _watcher_polls(emulator) >= start + polls else None,
        timeout=timeout,
        interval=0.2,
        what=what,
        on_tick=cluster.check_alive,
    )


def _finished_runs(cluster: AirflowCluster, count: int, timeout: float = 150) -> list[dict[str, Any]]:
    """Wait until ``count`` runs of the finance DAG have finished; fail on a failed one."""

    def finished() -> list[dict[str, Any]] | None:
        runs = cluster.dag_runs(FINANCE_DAG) or []
        assert all(r["state"] != "failed" for r in runs), runs
        done = [r for r in runs if r["state"] == "success"]
        return done if len(done) >= count else None

    return poll_until(finished, timeout=timeout, what=f"{count} run(s) of {FINANCE_DAG}", on_tick=cluster.check_alive)


def _refreshed_by_redash(emulator: Any, query_id: int) -> int:
    """Move the emulator's clock past the schedule and wait for Redash's own scheduler to refresh the query."""
    before = emulator.objects.queries[query_id].latest_query_data_id

    def refreshed() -> int | None:
        now = emulator.objects.queries[query_id].latest_query_data_id
        return now if now != before else None

    emulator.clock.advance(FINANCE_SCHEDULE)
    return poll_until(refreshed, timeout=30, interval=0.05, what=f"Redash's scheduler to refresh query {query_id}")


@pytest.mark.usefixtures("report_logs_on_failure")
def test_dag_on_a_watched_redash_asset_runs_once_per_refresh_by_redash_and_survives_a_triggerer_restart(
    cluster: AirflowCluster, emulator: Any, finance_query: int
) -> None:
    exports = cluster.home / "exports"
    cluster.unpause(FINANCE_DAG)
    _wait_for_polls(cluster, emulator, 3, "the asset watcher to poll the finance query")
    assert cluster.dag_runs(FINANCE_DAG) == [], "an event for the result that was there at start-up"

    first = _refreshed_by_redash(emulator, finance_query)
    _finished_runs(cluster, 1)
    _wait_for_polls(cluster, emulator, 3, "more polls after the first run")
    assert len(cluster.dag_runs(FINANCE_DAG) or []) == 1, "a second run without a second refresh"
    assert (exports / f"finance_{first}.csv").is_file()

    # Redash refreshes the query while no triggerer runs: the restarted watcher announces it once.
    cluster.kill("triggerer")
    killed_at = time.time()
    second = _refreshed_by_redash(emulator, finance_query)
    cluster.start("triggerer")
    cluster.wait_until_healthy(timeout=60, triggerer_heartbeat_after=killed_at)
    _finished_runs(cluster, 2)
    _wait_for_polls(cluster, emulator, 3, "more polls after the restarted watcher's run")

    assert len(cluster.dag_runs(FINANCE_DAG) or []) == 2, cluster.dag_runs(FINANCE_DAG)
    assert sorted(p.name for p in exports.glob("finance_*.csv")) == sorted(
        [f"finance_{first}.csv", f"finance_{second}.csv"]
    )


@pytest.mark.usefixtures("report_logs_on_failure")
def test_endpoint_run_is_held_by_the_real_triggerer_and_the_run_succeeds(cluster: AirflowCluster, posthog: Any) -> None:
    # Long enough that the task is seen deferred while the triggerer holds the run's request open.
    posthog.set_endpoint_delay("daily_signups", 8)

    cluster.unpause(POSTHOG_DAG_ID)
    run_id = cluster.trigger(POSTHOG_DAG_ID)
    observation = cluster.watch_run(POSTHOG_DAG_ID, run_id, timeout=180)

    assert observation.run_state == "success", observation
    assert set(observation.final_states.values()) == {"success"}, observation
    assert "deferred" in observation.seen_states["run_signups"], observation.seen_states
    assert observation.trigger_classpaths["run_signups"] == {ENDPOINT_TRIGGER}
    (triggerer_job_id,) = observation.triggerer_job_ids["run_signups"]
    events = cluster.trigger_log_events(POSTHOG_DAG_ID, run_id, "run_signups").get(triggerer_job_id, [])
    fired = [e for e in events if e.get("event") == "Trigger fired event"]
    assert len(fired) == 1, events
    assert "success" in fired[0]["result"]
    assert posthog.counters.executions("daily_signups", {"country": "DE"}) >= 1
