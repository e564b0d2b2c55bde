"""Thread-safe request, execution and connection counters of the emulator."""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from typing import Any


def parameters_key(parameters: Any) -> str:
    """:return: a canonical text form of a parameters mapping (used as a counter key)."""
    return json.dumps(parameters or {}, sort_keys=True, default=str)


class Counters:
    """What the emulator has seen. Written by the server thread, read from any thread.

    * ``requests(route=..., method=..., status=...)``: answered requests per route template
      (for example ``"/api/jobs/{job_id}"``), method and status. Dropped connections count with
      status 0, unmatched paths under the template ``"<unmatched>"``. A request is counted as soon
      as its status is decided, before its answer is sent: a client holding an answer sees it counted.
    * ``targets()``: the request targets (path and query string) most recently seen, oldest first.
    * ``executions(query_id, parameters)``: new query executions (jobs created). Cache hits and
      requests that joined a job already in flight do not count. Ad-hoc SQL has query_id None.
      (The PostHog emulator counts its runs here too, with the endpoint name as ``query_id``.)
    * ``max_in_flight`` / ``in_flight``: live jobs (queued or running) at the peak / now.
    * ``connections_seen``: TCP connections accepted (over HTTPS: those whose TLS handshake succeeded).
    * ``tls_handshakes``: TLS handshakes begun (HTTPS only), failed ones included.
    * ``max_concurrent_requests``: HTTP requests being handled at once, at the peak.
    """

    #: How many request targets :meth:`targets` remembers.
    TARGETS_KEPT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._targets: deque[str] = deque(maxlen=self.TARGETS_KEPT)
        self._executions: Counter[tuple[int | str | None, str]] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections_seen = 0
        self.tls_handshakes = 0
        self.concurrent_requests = 0
        self.max_concurrent_requests = 0

    def reset(self) -> None:
        """Zero every counter (live values such as ``in_flight`` are kept)."""
        with self._lock:
            self._requests.clear()
            self._targets.clear()
            self._executions.clear()
            self.max_in_flight = self.in_flight
            self.connections_seen = 0
            self.tls_handshakes = 0
            self.max_concurrent_requests = self.concurrent_requests

    # -- writers (server thread) -------------------------------------------------------------
    def record_request(self, route: str, method: str, status: int, target: str | None = None) -> None:
        """Count one answered (or dropped, status 0) request; ``target`` is its path and query string."""
        with self._lock:
            self._requests[(route, method.upper(), status)] += 1
            if target is not None:
                self._targets.append(target)

    def record_execution(self, query_id: int | str | None, parameters: Any) -> None:
        """Count one new execution of ``query_id`` with ``parameters``."""
        with self._lock:
            self._executions[(query_id, parameters_key(parameters))] += 1

    def job_started_waiting(self) -> None:
        """A job became live (queued)."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def job_done(self) -> None:
        """A live job finished, failed or was cancelled."""
        with self._lock:
            self.in_flight -= 1

    def connection_opened(self) -> None:
        """A TCP connection was accepted."""
        with self._lock:
            self.connections_seen += 1

    def tls_handshake_started(self) -> None:
        """A TLS handshake began (it may still fail)."""
        with self._lock:
            self.tls_handshakes += 1

    def request_began(self) -> None:
        """An HTTP request started being handled."""
        with self._lock:
            self.concurrent_requests += 1
            self.max_concurrent_requests = max(self.max_concurrent_requests, self.concurrent_requests)

    def request_ended(self) -> None:
        """An HTTP request was answered."""
        with self._lock:
            self.concurrent_requests -= 1

    # -- readers -----------------------------------------------------------------------------
    def requests(self, route: str | None = None, method: str | None = None, status: int | None = None) -> int:
        """:return: how many requests matched every given filter (None = any)."""
        with self._lock:
            return sum(
                n
                for (r, m, s), n in self._requests.items()
                if (route is None or r == route)
                and (method is None or m == method.upper())
                and (status is None or s == status)
            )

    def targets(self) -> list[str]:
        """:return: the last :attr:`TARGETS_KEPT` request targets (``/api/jobs/1?x=y``), oldest first."""
        with self._lock:
            return list(self._targets)

    def request_table(self) -> dict[tuple[str, str, int], int]:
        """:return: a copy of the counts keyed by (route template, method, status)."""
        with self._lock:
            return dict(self._requests)

    def executions(self, query_id: int | str | None = "any", parameters: Any = "any") -> int:
        """:return: how many executions matched (``"any"`` = no filter; parameters compare
        canonically, so key order does not matter)."""
        pkey = None if parameters == "any" else parameters_key(parameters)
        with self._lock:
            return sum(
                n
                for (q, p), n in self._executions.items()
                if (query_id == "any" or q == query_id) and (pkey is None or p == pkey)
            )

    def execution_table(self) -> dict[tuple[int | str | None, str], int]:
        """:return: a copy of the execution counts keyed by (query id, canonical parameters)."""
        with self._lock:
            return dict(self._executions)
