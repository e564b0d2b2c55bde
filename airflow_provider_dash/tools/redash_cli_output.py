"""What ``dash-tools`` prints: plain-text tables for people, JSON for machines, a progress bar on a terminal.

Results go to standard output, progress and errors to standard error. The progress bar (rich, an
Airflow dependency) is drawn only when standard error is a terminal, so nothing but the result
reaches a pipe or a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from airflow_provider_dash.tools.progress import NoProgress, Progress


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: a header line, a rule, one line per row (columns padded; ``None`` shows as empty).

    >>> print(table(["id", "name"], [[1, "orders"], [12, None]]))
    id  name
    --  ------
    1   orders
    12
    """
    cells = [[("" if value is None else str(value)).replace("\n", " ") for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))
    lines = [headers, ["-" * width for width in widths], *cells]
    return "\n".join("  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip() for line in lines)


class Output:
    """Where a command writes: its result (``table`` or ``json``) and its notes.

    :param fmt: ``table`` or ``json``.
    :param out: the result stream (standard output).
    :param err: the stream for notes, errors and the progress bar (standard error).
    """

    def __init__(self, fmt: str, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self.format = fmt
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    @property
    def is_json(self) -> bool:
        """True with ``--format json``."""
        return self.format == "json"

    def json(self, value: Any) -> None:
        """Write ``value`` as one JSON document."""
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")

    def text(self, *lines: str) -> None:
        """Write lines of the readable result."""
        for line in lines:
            self.out.write(line + "\n")

    def note(self, text: str) -> None:
        """Write a note for the person at the terminal (standard error)."""
        self.err.write(text + "\n")

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        """A rich progress bar on standard error when it is a terminal, else nothing drawn."""
        if not _is_terminal(self.err):
            yield NoProgress()
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.err),
            transient=True,
        )
        with bar:
            yield _RichProgress(bar)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _RichProgress:
    """The :class:`Progress` protocol on a rich progress bar: one task per stage."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._task: Any = None

    def begin(self, what: str, total: int | None) -> None:
        if self._task is not None:
            self._bar.update(self._task, visible=False)
        self._task = self._bar.add_task(what, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, steps)
