"""Emulated time: ``time_scale`` emulated seconds pass per real second."""

from __future__ import annotations

import threading
import time


class EmulatedClock:
    """A monotonic clock that runs ``scale`` times faster than real time.

    Changing the scale keeps the emulated time continuous (it is rebased at the change).
    """

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time_scale must be positive")
        self._lock = threading.Lock()
        self._scale = float(scale)
        self._real0 = time.monotonic()
        self._emul0 = 0.0

    @property
    def scale(self) -> float:
        """:return: emulated seconds per real second."""
        return self._scale

    @scale.setter
    def scale(self, value: float) -> None:
        if value <= 0:
            raise ValueError("time_scale must be positive")
        with self._lock:
            now = time.monotonic()
            self._emul0 += (now - self._real0) * self._scale
            self._real0 = now
            self._scale = float(value)

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` emulated seconds ahead at once (cache ageing, expiry) without waiting."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._emul0 += seconds

    def now(self) -> float:
        """:return: emulated seconds since the clock was made."""
        with self._lock:
            return self._emul0 + (time.monotonic() - self._real0) * self._scale

    def real_seconds(self, emulated: float) -> float:
        """:return: how many real seconds ``emulated`` seconds take at the current scale."""
        return max(0.0, emulated) / self._scale
