"""How a tool reports its progress: a tiny protocol the command line fills with a rich progress bar."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told how much work there is and how much is done (it must be safe to call from one thread)."""

    def begin(self, what: str, total: int | None) -> None:
        """A stage starts: ``what`` it does and how many steps it has (``None``: not known yet)."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current stage are done."""


class NoProgress:
    """Reports nothing (the default, and what operators use: Airflow's log is the report)."""

    def begin(self, what: str, total: int | None) -> None:
        """Ignore the stage."""

    def advance(self, steps: int = 1) -> None:
        """Ignore the step."""
