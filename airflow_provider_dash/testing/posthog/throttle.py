"""Rate limits and the concurrency gate of the emulated PostHog (REFERENCE.md §6, §7 rules 17-18).

The rate limits follow DRF's ``SimpleRateThrottle`` (which PostHog's throttles extend): a sliding
log of request times per bucket; every throttle of the set records the request even when another
one refuses it, and the answer names the longest wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import deque
from dataclasses import dataclass

from airflow_provider_dash.testing.clock import EmulatedClock

from . import errors
from .store import SECRET, ApiKey


@dataclass
class Limits:
    """Rate and concurrency limits; change them at any time (tests trip them with a handful of calls).

    :param burst: requests per ``burst_window`` per credential (``api_queries_burst``).
    :param sustained: requests per ``sustained_window`` per credential (``api_queries_sustained``).
    :param materialized_burst: the burst rate of runs of a materialized version (G3).
    :param materialized_sustained: the sustained rate of runs of a materialized version (G3).
    :param burst_window: emulated seconds of the burst window.
    :param sustained_window: emulated seconds of the sustained window.
    :param concurrency: runs computing at once per project; more get 429.
    :param materialized_concurrency: the same for runs reading a materialized version.
    :param concurrency_wait: emulated seconds a run waits for a free slot before its 429 (the docs
        speak of a queue of ~30 s; 0 answers at once).
    :param retry_after_header: send ``Retry-After`` with rate-limit 429s (the real server may not).
    """

    burst: int = 240
    sustained: int = 2400
    materialized_burst: int = 1200
    materialized_sustained: int = 12000
    burst_window: float = 60.0
    sustained_window: float = 3600.0
    concurrency: int = 3
    materialized_concurrency: int = 10
    concurrency_wait: float = 0.0
    retry_after_header: bool = False


class Throttles:
    """DRF-style sliding-window rate limits keyed per credential (and per project for secret keys)."""

    def __init__(self, limits: Limits, clock: EmulatedClock) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._history: dict[str, deque[float]] = {}

    def reset(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._history.clear()

    def _buckets(self, key: ApiKey, project_id: int, materialized: bool) -> list[tuple[str, int, float]]:
        lim = self.limits
        if materialized:
            rates = [("materialized_burst", lim.materialized_burst, lim.burst_window)]
            rates.append(("materialized_sustained", lim.materialized_sustained, lim.sustained_window))
        else:
            rates = [("api_queries_burst", lim.burst, lim.burst_window)]
            rates.append(("api_queries_sustained", lim.sustained, lim.sustained_window))
        ident = hashlib.sha256(key.value.encode()).hexdigest()[:32]
        buckets = [(f"{scope}:key:{ident}", rate, window) for scope, rate, window in rates]
        if key.kind == SECRET:  # project secret keys are also limited in aggregate per project (§6)
            buckets += [(f"{scope}:project:{project_id}", rate, window) for scope, rate, window in rates]
        return buckets

    def check(self, key: ApiKey, project_id: int, materialized: bool = False) -> None:
        """Record one request of ``key``.

        :raises ApiError: 429 "Request was throttled. Expected available in N seconds." when a bucket is full.
        """
        now = self.clock.now()
        waits: list[float] = []
        with self._lock:
            for name, rate, window in self._buckets(key, project_id, materialized):
                history = self._history.setdefault(name, deque())
                while history and history[-1] <= now - window:
                    history.pop()
                if len(history) >= rate:
                    remaining = window - (now - history[-1]) if history else window
                    waits.append(remaining / max(1, rate - len(history) + 1))
                else:
                    history.appendleft(now)
        if waits:
            raise errors.throttled(max(waits), self.limits.retry_after_header)


class ConcurrencyGate:
    """Computing runs per project (materialized and inline runs counted apart). Used from the event loop only."""

    def __init__(self, limits: Limits, clock: EmulatedClock) -> None:
        self.limits = limits
        self.clock = clock
        self._running: dict[tuple[int, bool], int] = {}
        self._freed: asyncio.Event | None = None

    def _limit(self, materialized: bool) -> int:
        return self.limits.materialized_concurrency if materialized else self.limits.concurrency

    async def acquire(self, project_id: int, materialized: bool) -> None:
        """Take a slot, waiting up to ``concurrency_wait`` emulated seconds for one.

        :raises ApiError: 429 "Too many concurrent requests. Please try again later." when none frees up.
        """
        key = (project_id, materialized)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.clock.real_seconds(self.limits.concurrency_wait)
        while self._running.get(key, 0) >= self._limit(materialized):
            left = deadline - loop.time()
            if left <= 0:
                raise errors.too_many_concurrent()
            if self._freed is None:
                self._freed = asyncio.Event()
            freed = self._freed
            try:
                await asyncio.wait_for(freed.wait(), left)
            except TimeoutError:
                raise errors.too_many_concurrent() from None
        self._running[key] = self._running.get(key, 0) + 1

    def release(self, project_id: int, materialized: bool) -> None:
        """Give a slot back and wake the runs waiting for one."""
        key = (project_id, materialized)
        self._running[key] = max(0, self._running.get(key, 0) - 1)
        if self._freed is not None:
            self._freed.set()
            self._freed = None
