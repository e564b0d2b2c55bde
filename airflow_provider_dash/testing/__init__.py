"""A Redash emulator for tests: a real HTTP server with Redash 26.3.0's routes and quirks.

The product never imports this package. See :class:`RedashEmulator`.
"""

from __future__ import annotations

from .counters import Counters
from .faults import FaultConfig
from .server import REDASH_VERSION, RedashEmulator

__all__ = ["REDASH_VERSION", "Counters", "FaultConfig", "RedashEmulator"]
