"""The Redash emulator in a child process, driven over a pipe.

The benchmarks measure the client's CPU with ``time.process_time()``; an emulator in the same
process would be counted too. Here it runs in its own interpreter (``spawn``), and the parent
calls it through :meth:`EmulatorProcess.call` (any emulator method or attribute path, such as
``"counters.requests"``) and :meth:`EmulatorProcess.submit_jobs`.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any


def _resolve(emu: Any, path: str) -> Any:
    target = emu
    for part in path.split("."):
        target = getattr(target, part)
    return target


def _serve(conn: Connection, kwargs: dict[str, Any]) -> None:
    from airflow_provider_dash.testing.server import RedashEmulator

    emu = RedashEmulator(**kwargs).start()
    conn.send(("ready", emu.url, emu.user_key))
    while True:
        try:
            command, args = conn.recv()
        except EOFError:
            break
        try:
            if command == "stop":
                break
            if command == "get":
                result: Any = _resolve(emu, args[0])
            elif command == "set":
                owner, _, attr = args[0].rpartition(".")
                setattr(_resolve(emu, owner) if owner else emu, attr, args[1])
                result = None
            elif command == "call":
                path, call_args, call_kwargs = args
                result = _resolve(emu, path)(*call_args, **call_kwargs)
            elif command == "submit_jobs":
                # Distinct SQL per job (the server would otherwise share one job between them).
                count, delay, tag = args
                result = [emu.jobs.submit(f"SELECT {i} AS n /* {tag} */", 1, None, {}, delay).id for i in range(count)]
            elif command == "job_states":
                jobs = {job_id: emu.jobs.get(job_id) for job_id in args[0]}
                result = {j: (job.status, job.error) if job else (None, "unknown") for j, job in jobs.items()}
            elif command == "cpu":
                result = time.process_time()
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send(("ok", result))
        except Exception as exc:  # report to the parent instead of dying
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    emu.stop()
    conn.send(("stopped", None))


class EmulatorProcess:
    """A :class:`~airflow_provider_dash.testing.server.RedashEmulator` serving from a child process.

    :param kwargs: keyword arguments of ``RedashEmulator`` (time_scale, workers, ...).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.url = ""
        self.user_key = ""
        self._conn: Connection | None = None
        self._process: Any = None

    def start(self) -> EmulatorProcess:
        """Start the child and wait until it serves. :return: self."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self.kwargs), name="dash-emulator", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(60):
            raise RuntimeError("the emulator process did not start within 60 s")
        _, self.url, self.user_key = parent.recv()
        return self

    @property
    def pid(self) -> int:
        """The child's process id."""
        return int(self._process.pid)

    def _ask(self, command: str, *args: Any) -> Any:
        assert self._conn is not None, "the emulator process is not running"
        self._conn.send((command, args))
        status, result = self._conn.recv()
        if status == "error":
            raise RuntimeError(f"emulator: {result}")
        return result

    def call(self, path: str, *args: Any, **kwargs: Any) -> Any:
        """Call the emulator's method at ``path`` (e.g. ``"add_query"``, ``"counters.requests"``)."""
        return self._ask("call", path, args, kwargs)

    def get(self, path: str) -> Any:
        """Read the emulator's attribute at ``path`` (e.g. ``"counters.connections_seen"``)."""
        return self._ask("get", path)

    def set(self, path: str, value: Any) -> None:
        """Set the emulator's attribute at ``path`` (e.g. ``"workers"``)."""
        self._ask("set", path, value)

    def submit_jobs(self, count: int, delay: float, tag: str) -> list[str]:
        """Queue ``count`` distinct ad-hoc jobs that each take ``delay`` emulated seconds. :return: their ids."""
        return list(self._ask("submit_jobs", count, delay, tag))

    def job_states(self, job_ids: list[str]) -> dict[str, tuple[int | None, str]]:
        """The emulator's own (status, error) of each job."""
        return dict(self._ask("job_states", list(job_ids)))

    def cpu_seconds(self) -> float:
        """CPU seconds the emulator process has used so far."""
        return float(self._ask("cpu"))

    def conn_env(self, conn_id: str, **extra: Any) -> dict[str, str]:
        """The ``AIRFLOW_CONN_<ID>`` environment entry for an Airflow connection to this emulator."""
        import json

        value = {"conn_type": "dash", "host": self.url, "password": self.user_key, "extra": extra}
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}

    def stop(self) -> None:
        """Stop the child (and wait for it)."""
        if self._conn is not None:
            try:
                self._conn.send(("stop", ()))
                self._conn.poll(20)
            except (BrokenPipeError, EOFError, OSError):
                pass
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(20)
            if self._process.is_alive():
                os.kill(self._process.pid, 9)
            self._process = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
