"""A PostHog Endpoints emulator for tests: a real HTTP server following REFERENCE.md §7 (G3, or G1).

The product never imports this package. See :class:`PostHogEmulator`.
"""

from __future__ import annotations

from .server import DEFAULT_SCOPES, PostHogEmulator
from .state import G1, G3, RUN_FAULTS, Settings
from .throttle import Limits

__all__ = ["DEFAULT_SCOPES", "G1", "G3", "RUN_FAULTS", "Limits", "PostHogEmulator", "Settings"]
