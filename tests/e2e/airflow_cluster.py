"""A real Apache Airflow on loopback, for end-to-end tests.

:class:`AirflowCluster` runs the four Airflow 3 components (``api-server``, ``scheduler``,
``dag-processor``, ``triggerer``) as separate processes sharing one temporary ``AIRFLOW_HOME``, a
SQLite metadata database and the LocalExecutor, the way ``airflow standalone`` does. Each component
can be started, stopped or killed on its own (to test a triggerer crash, say), every process runs in
its own process group so that its children go with it, and every component logs to its own file.

The cluster is driven through the public REST API (``/api/v2``). ``simple_auth_manager_all_admins``
makes every request an admin, so no token dance is needed.

Nothing here sleeps for a fixed time to wait for something: readiness, DAG parsing and task states
are polled with a bounded deadline and a short interval.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
"""The long-running Airflow processes, in the order they are started."""

FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
"""Task instance states after which a task will not run again without a clear."""

_T = TypeVar("_T")


class ClusterError(RuntimeError):
    """A component died, or something did not happen before its deadline."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    :return: the port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll_until(
    check: Callable[[], _T | None],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str,
    on_tick: Callable[[], None] | None = None,
) -> _T:
    """Call ``check`` until it returns something other than ``None``, or give up.

    :param check: returns the awaited value, or ``None`` while it is not there yet.
    :param timeout: seconds before giving up.
    :param interval: seconds between two checks.
    :param what: what is awaited, for the error message.
    :param on_tick: called before every check (e.g. to fail fast when a process died).
    :return: the first value ``check`` returned that was not ``None``.
    :raises ClusterError: when the deadline passes first.
    """
    deadline = time.monotonic() + timeout
    while True:
        if on_tick is not None:
            on_tick()
        value = check()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


@dataclass
class Component:
    """One Airflow process: its command, its log file and, while running, its ``Popen``."""

    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    wanted: bool = False
    """Whether it should be running (started and not deliberately stopped or killed)."""

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.process is not None and self.process.poll() is None


@dataclass
class TaskRunObservation:
    """Every state each task instance of one DAG run was seen in, and how the run ended."""

    dag_id: str
    run_id: str
    run_state: str | None = None
    final_states: dict[str, str | None] = field(default_factory=dict)
    seen_states: dict[str, list[str]] = field(default_factory=dict)
    triggerer_job_ids: dict[str, list[int]] = field(default_factory=dict)
    trigger_classpaths: dict[str, set[str]] = field(default_factory=dict)

    def deferred(self, task_id: str) -> bool:
        """Whether ``task_id`` is deferred right now (at the last poll)."""
        return self.final_states.get(task_id) == "deferred"

    def current_triggerer(self, task_id: str) -> int | None:
        """The id of the triggerer job running ``task_id``'s trigger at the last poll, if any."""
        return self._current_triggerer.get(task_id)

    def __post_init__(self) -> None:
        self._current_triggerer: dict[str, int | None] = {}

    def record(self, task_instances: list[dict[str, Any]]) -> None:
        """Record one poll of the run's task instances.

        :param task_instances: the ``task_instances`` list of the REST API answer.
        """
        for ti in task_instances:
            task_id = ti["task_id"]
            state = ti.get("state")
            self.final_states[task_id] = state
            history = self.seen_states.setdefault(task_id, [])
            if state is not None and (not history or history[-1] != state):
                history.append(state)
            job = ti.get("triggerer_job")
            job_id = int(job["id"]) if job and job.get("id") is not None else None
            self._current_triggerer[task_id] = job_id
            if job_id is not None:
                ids = self.triggerer_job_ids.setdefault(task_id, [])
                if job_id not in ids:
                    ids.append(job_id)
            trigger = ti.get("trigger")
            if trigger and trigger.get("classpath"):
                self.trigger_classpaths.setdefault(task_id, set()).add(str(trigger["classpath"]))


class AirflowCluster:
    """A real Airflow (api-server, scheduler, dag-processor, triggerer, LocalExecutor, SQLite).

    Use it as a context manager, or call :meth:`close` yourself: every process is stopped (process
    group, SIGTERM then SIGKILL) however the block exits.

    :param home: an empty directory to use as ``AIRFLOW_HOME`` (it holds the database and logs).
    :param dags_folder: the folder of DAG files the dag-processor parses.
    :param extra_env: more environment for every component (e.g. ``AIRFLOW_CONN_DASH_DEFAULT``).
    """

    def __init__(self, home: Path, dags_folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.dags_folder = Path(dags_folder)
        self.logs_dir = self.home / "component-logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = self._build_env(extra_env or {})
        self.components: dict[str, Component] = {}
        for name in COMPONENTS:
            args = [sys.executable, "-m", "airflow", name]
            if name == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
            self.components[name] = Component(name, args, self.logs_dir / f"{name}.log")
        self._http: httpx.Client | None = None

    # -- configuration -------------------------------------------------------------------------

    def _build_env(self, extra_env: dict[str, str]) -> dict[str, str]:
        # Start from a clean slate: the developer's own AIRFLOW__* settings must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        from cryptography.fernet import Fernet  # an Airflow dependency; only needed here

        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                # Fast feedback: parse new files quickly, heartbeat often, notice a dead
                # triggerer within seconds rather than the production default of 30 s.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra_env)
        return env

    # -- life cycle ----------------------------------------------------------------------------

    def __enter__(self) -> AirflowCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def migrate(self, timeout: float = 120) -> None:
        """Create the metadata database (``airflow db migrate``).

        :raises ClusterError: when the migration fails or takes longer than ``timeout``.
        """
        log = self.logs_dir / "db-migrate.log"
        with log.open("wb") as out:
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "airflow", "db", "migrate"],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ClusterError(f"airflow db migrate took more than {timeout:.0f}s:\n{_tail(log, 40)}") from None
        if proc.returncode != 0:
            raise ClusterError(f"airflow db migrate failed:\n{_tail(log, 40)}")

    def start(self, name: str) -> None:
        """Start one component in a new process group, appending to its log file.

        :param name: one of :data:`COMPONENTS`.
        :raises ClusterError: when it is already running.
        """
        component = self.components[name]
        if component.running:
            raise ClusterError(f"{name} is already running")
        component.starts += 1
        component.wanted = True
        with component.log_path.open("ab") as out:
            out.write(f"\n===== start #{component.starts} of {name} =====\n".encode())
            out.flush()
            component.process = subprocess.Popen(
                component.args,
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() takes the children too
            )

    def stop(self, name: str, *, grace: float = 15) -> None:
        """Stop one component gracefully: SIGTERM to its process group, SIGKILL after ``grace``.

        Does nothing when the component is not running.
        """
        component = self.components[name]
        component.wanted = False
        process = component.process
        if process is None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # Children may outlive their parent (task supervisors, uvicorn workers): kill them too.
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)
        component.process = None  # never signal this (possibly reused) process group again

    def kill(self, name: str) -> None:
        """Crash one component: SIGKILL to its whole process group, no chance to clean up."""
        component = self.components[name]
        component.wanted = False
        process = component.process
        if process is None:
            return
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)
        component.process = None

    def start_all(self) -> None:
        """Start every component (the database must be migrated)."""
        for name in COMPONENTS:
            self.start(name)

    def close(self) -> None:
        """Stop every component (reverse start order) and close the HTTP client. Idempotent."""
        for name in reversed(COMPONENTS):
            try:
                self.stop(name)
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {name}: {exc!r}", file=sys.stderr)
        if self._http is not None:
            self._http.close()
            self._http = None

    def check_alive(self, *names: str) -> None:
        """Fail fast when a component that should be running has exited.

        :param names: the components to check; when empty, every one that should be running.
        :raises ClusterError: naming the dead component, with the tail of its log.
        """
        for name in names or COMPONENTS:
            component = self.components[name]
            if component.wanted and component.process is not None and not component.running:
                raise ClusterError(
                    f"{name} exited with code {component.process.returncode}:\n{_tail(component.log_path, 40)}"
                )

    # -- REST API ------------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """An HTTP client for the API server (``/api/v2`` relative URLs)."""
        if self._http is None:
            self._http = httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=10)
        return self._http

    def _get_json(self, path: str) -> Any | None:
        try:
            response = self.http.get(path)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        return response.json()

    def health(self) -> dict[str, Any] | None:
        """The API server's ``/monitor/health`` answer, or ``None`` when it is not answering."""
        return self._get_json("/monitor/health")

    def wait_until_healthy(
        self, timeout: float = 120, *, triggerer_heartbeat_after: float | None = None
    ) -> dict[str, Any]:
        """Wait until the API server answers and scheduler, triggerer and dag-processor are healthy.

        :param triggerer_heartbeat_after: a UNIX time; when given, also wait for a triggerer
            heartbeat newer than it (a restarted triggerer, not the ghost of a killed one).
        :return: the health answer.
        :raises ClusterError: when a component dies or the deadline passes.
        """

        def healthy() -> dict[str, Any] | None:
            health = self.health()
            if health is None:
                return None
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            if any((health.get(p) or {}).get("status") != "healthy" for p in parts):
                return None
            if triggerer_heartbeat_after is not None:
                beat = health["triggerer"].get("latest_triggerer_heartbeat")
                if beat is None or _parse_time(beat) <= triggerer_heartbeat_after:
                    return None
            return health

        return poll_until(healthy, timeout=timeout, what="a healthy Airflow", on_tick=self.check_alive)

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id`` and the API server knows it.

        :return: the DAG's REST representation.
        :raises ClusterError: when the file has an import error, or on timeout.
        """

        def parsed() -> dict[str, Any] | None:
            errors = self.import_errors()
            if errors:
                raise ClusterError(f"DAG import errors: {errors}")
            return self._get_json(f"/dags/{dag_id}")

        return poll_until(parsed, timeout=timeout, what=f"DAG {dag_id!r} to be parsed", on_tick=self.check_alive)

    def import_errors(self) -> list[dict[str, Any]]:
        """The DAG import errors the dag-processor recorded (empty when all files parse)."""
        answer = self._get_json("/importErrors")
        return [] if answer is None else list(answer.get("import_errors", []))

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id`` so the scheduler runs it."""
        response = self.http.patch(f"/dags/{dag_id}", json={"is_paused": False})
        response.raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a manual run of ``dag_id`` now.

        :return: the new run's id.
        """
        response = self.http.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]] | None:
        """The task instances of one run, or ``None`` when the API server does not answer."""
        answer = self._get_json(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return None if answer is None else list(answer["task_instances"])

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]] | None:
        """Every run of ``dag_id``, or ``None`` when the API server does not answer."""
        answer = self._get_json(f"/dags/{dag_id}/dagRuns")
        return None if answer is None else list(answer["dag_runs"])

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        """The state of one run (``queued``, ``running``, ``success``, ``failed``) or ``None``."""
        answer = self._get_json(f"/dags/{dag_id}/dagRuns/{run_id}")
        return None if answer is None else answer.get("state")

    def watch_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        timeout: float = 240,
        interval: float = 0.5,
        on_poll: Callable[[TaskRunObservation], None] | None = None,
    ) -> TaskRunObservation:
        """Poll a run until it finishes, recording every state each task instance went through.

        :param on_poll: called after each poll with the observation so far (e.g. to kill the
            triggerer once a task is deferred).
        :return: the observation, with the run's final state.
        :raises ClusterError: when a running component dies or the run outlives ``timeout``.
        """
        observation = TaskRunObservation(dag_id, run_id)

        def finished() -> TaskRunObservation | None:
            tis = self.task_instances(dag_id, run_id)
            if tis is not None:
                observation.record(tis)
            if on_poll is not None:
                on_poll(observation)
            state = self.dag_run_state(dag_id, run_id)
            if state in ("success", "failed"):
                observation.run_state = state
                tis = self.task_instances(dag_id, run_id)
                if tis is not None:
                    observation.record(tis)
                return observation
            return None

        return poll_until(
            finished,
            timeout=timeout,
            interval=interval,
            what=f"run {run_id!r} of {dag_id!r} to finish",
            on_tick=self.check_alive,
        )

    # -- diagnostics ---------------------------------------------------------------------------

    def log_text(self, name: str) -> str:
        """The whole log of one component (every start of it)."""
        path = self.components[name].log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def task_log_text(self, dag_id: str) -> str:
        """All task logs written for ``dag_id`` so far, concatenated."""
        base = self.home / "logs" / f"dag_id={dag_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(_files(base)))

    def trigger_log_events(self, dag_id: str, run_id: str, task_id: str) -> dict[int, list[dict[str, Any]]]:
        """The structured log lines triggerers wrote while running the triggers of one task instance.

        Airflow writes them next to the task log, as ``attempt=<n>.log.trigger.<job id>.log``.

        :return: the parsed JSON lines per triggerer job id (lines that are not JSON are skipped).
        """
        events: dict[int, list[dict[str, Any]]] = {}
        base = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        for path in sorted(_files(base)):
            if ".log.trigger." not in path.name:
                continue
            job_id = int(path.name.rsplit(".trigger.", 1)[1].split(".", 1)[0])
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    events.setdefault(job_id, []).append(record)
        return events

    def log_tails(self, lines: int = 60) -> str:
        """The last ``lines`` of every component log and task log, for a failure report."""
        parts = [f"----- {c.name} ({c.log_path}) -----\n{_tail(c.log_path, lines)}" for c in self.components.values()]
        for path in sorted(_files(self.home / "logs")):
            parts.append(f"----- task log {path.relative_to(self.home)} -----\n{_tail(path, lines)}")
        return "\n".join(parts)

    def remove_home(self) -> None:
        """Delete ``AIRFLOW_HOME`` (call after :meth:`close`)."""
        shutil.rmtree(self.home, ignore_errors=True)


def _files(base: Path) -> Iterator[Path]:
    return (p for p in base.rglob("*") if p.is_file()) if base.exists() else iter(())


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)  # start_new_session=True: the group id is the pid
    except ProcessLookupError:
        pass


def _parse_time(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
