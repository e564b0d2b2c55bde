"""Seeded fault injection: errors, rate limits, latency, dropped connections, bad JSON."""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

#: What a fault decision asks the server to do with one request.
PASS, DROP, RATE_LIMIT, ERROR = "pass", "drop", "rate_limit", "error"


@dataclass
class FaultConfig:
    """Which faults to inject.

    :param error_rate: probability (0..1) that a matching request gets an error status instead
        of being handled (decided before handling, so an injected error never runs anything).
    :param error_statuses: statuses to pick from for injected errors.
    :param routes: route templates or glob patterns (``"/api/jobs/*"``, ``"/api/jobs/{job_id}"``)
        the faults apply to; None means every route.
    :param methods: HTTP methods the faults apply to; None means every method.
    :param rate_limit_every: every Nth matching request gets 429 with ``Retry-After``; 0 = off.
    :param retry_after: the ``Retry-After`` value (seconds) sent with injected 429s.
    :param latency: real seconds added before answering a matching request.
    :param latency_rate: the share (0..1) of matching requests that get ``latency``, drawn from
        a seeded generator of its own (so it does not shift the other faults' sequence).
    :param drop_rate: probability that the connection is closed without any answer.
    :param malformed_next: the next N JSON answers get a truncated, non-JSON body (status 200).
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    routes: Iterable[str] | None = None
    methods: Iterable[str] | None = None
    rate_limit_every: int = 0
    retry_after: int = 1
    latency: float = 0.0
    latency_rate: float = 1.0
    drop_rate: float = 0.0
    malformed_next: int = 0


@dataclass
class FaultDecision:
    """The outcome for one request: ``action`` plus the status for errors and the delay."""

    action: str = PASS
    status: int = 200
    latency: float = 0.0


@dataclass
class FaultInjector:
    """Applies a :class:`FaultConfig` with a seeded random generator (runs repeat exactly)."""

    seed: int = 0
    config: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._latency_rng = random.Random(f"latency-{self.seed}")
        self._matching_seen = 0
        self._malformed_left = self.config.malformed_next
        self.injected: dict[str, int] = {"error": 0, "rate_limit": 0, "drop": 0, "malformed": 0, "latency": 0}

    def configure(self, config: FaultConfig | None = None, **changes: object) -> FaultConfig:
        """Replace the configuration (or change some fields of it); resets the Nth-request count.

        :return: the configuration now in force.
        """
        with self._lock:
            base = config if config is not None else self.config
            for key, value in changes.items():
                if not hasattr(base, key):
                    raise TypeError(f"unknown fault setting {key!r}")
                setattr(base, key, value)
            self.config = base
            self._matching_seen = 0
            self._malformed_left = base.malformed_next
            return base

    def clear(self) -> None:
        """Turn every fault off."""
        self.configure(FaultConfig())

    def reseed(self, seed: int) -> None:
        """Restart the random sequence from ``seed``."""
        with self._lock:
            self.seed = seed
            self._rng = random.Random(seed)
            self._latency_rng = random.Random(f"latency-{seed}")

    def _matches(self, route: str, path: str, method: str) -> bool:
        cfg = self.config
        if cfg.methods is not None and method.upper() not in {m.upper() for m in cfg.methods}:
            return False
        if cfg.routes is None:
            return True
        return any(route == pat or fnmatch.fnmatchcase(path, pat) for pat in cfg.routes)

    def decide(self, route: str, path: str, method: str) -> FaultDecision:
        """:return: what to do with this request (called once per request, before handling)."""
        with self._lock:
            cfg = self.config
            if not self._matches(route, path, method):
                return FaultDecision()
            self._matching_seen += 1
            decision = FaultDecision()
            if cfg.latency > 0 and (cfg.latency_rate >= 1 or self._latency_rng.random() < cfg.latency_rate):
                decision.latency = cfg.latency
                self.injected["latency"] += 1
            if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                decision.action = DROP
            elif cfg.rate_limit_every and self._matching_seen % cfg.rate_limit_every == 0:
                decision.action, decision.status = RATE_LIMIT, 429
            elif cfg.error_rate and self._rng.random() < cfg.error_rate:
                decision.action = ERROR
                decision.status = self._rng.choice(tuple(cfg.error_statuses))
            if decision.action != PASS:
                self.injected[decision.action] += 1
            return decision

    def take_malformed(self) -> bool:
        """:return: True if this JSON answer must be sent malformed (uses one of the N)."""
        with self._lock:
            if self._malformed_left > 0:
                self._malformed_left -= 1
                self.injected["malformed"] += 1
                return True
            return False
