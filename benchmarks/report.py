"""Figures, the table printed at the end, and the files written: JSON, markdown, the scaling chart."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "out"
RESULTS_JSON = OUT_DIR / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
SCALING_PNG = OUT_DIR / "scaling.png"


@dataclass
class Figure:
    """One measured figure and, when it has one, its budget.

    :param benchmark: the benchmark it belongs to (``triggerer``, ``fanout``, ...).
    :param name: what was measured, in words.
    :param value: the measured value.
    :param unit: its unit (``ms``, ``KiB``, ``x floor``, ``polls``, ...).
    :param budget: the budget in words (``<= 1.3``), or ``""`` for a figure reported for context.
    :param passed: ``True``/``False`` against the budget, ``None`` for a context figure.
    :param note: how it was obtained or what it is compared with.
    """

    benchmark: str
    name: str
    value: float
    unit: str = ""
    budget: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """``pass``, ``FAIL`` or ``-`` (no budget)."""
        return "-" if self.passed is None else ("pass" if self.passed else "FAIL")


def budget(
    benchmark: str, name: str, value: float, limit: float, unit: str = "", *, at_least: bool = False, note: str = ""
) -> Figure:
    """A figure checked against ``limit`` (``value <= limit``, or ``>=`` with ``at_least``)."""
    passed = value >= limit if at_least else value <= limit
    return Figure(benchmark, name, value, unit, f"{'>=' if at_least else '<='} {limit:g}", passed, note)


def info(benchmark: str, name: str, value: float, unit: str = "", note: str = "") -> Figure:
    """A figure reported for context (a baseline or a raw measurement), with no budget."""
    return Figure(benchmark, name, value, unit, "", None, note)


@dataclass
class Report:
    """Everything one ``python -m benchmarks`` run measured."""

    figures: list[Figure] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when a budget failed or a benchmark crashed."""
        return bool(self.errors) or any(f.passed is False for f in self.figures)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _rows(report: Report) -> list[list[str]]:
    rows = [
        [f.benchmark, f.name, f"{_fmt(f.value)} {f.unit}".strip(), f.budget, f.verdict, f.note] for f in report.figures
    ]
    rows.extend([name, "crashed", "", "", "FAIL", error] for name, error in report.errors.items())
    return rows


HEADER = ["benchmark", "figure", "value", "budget", "result", "note"]


def text_table(report: Report) -> str:
    """The table as aligned plain text (the note column last, unpadded)."""
    rows = [HEADER, *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def markdown_table(report: Report) -> str:
    """The table as GitHub markdown (for the README)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _rows(report)]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def write_json(report: Report, path: Path = RESULTS_JSON) -> Path:
    """Write every figure, series and error as JSON. :return: the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": machine(),
        "failed": report.failed,
        "figures": [asdict(f) | {"verdict": f.verdict} for f in report.figures],
        "series": report.series,
        "errors": report.errors,
        "seconds": report.seconds,
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def write_markdown(report: Report, path: Path = RESULTS_MD, benchmarks: Sequence[str] = ()) -> Path:
    """Write the table as markdown, with where and when it was measured. :return: the path."""
    m = machine()
    which = ", ".join(benchmarks) if benchmarks else "all"
    text = (
        "# Benchmark results\n\n"
        f"Latest `python -m benchmarks` run ({which}): {m['when']}, Python {m['python']}, "
        f"{m['cpus']} CPUs, {m['platform']}. Generated by `benchmarks/report.py`; see "
        "[benchmarks/README.md](README.md) for the methods.\n\n"
        f"{markdown_table(report)}\n\n"
        f"Overall: **{'FAIL' if report.failed else 'pass'}**.\n"
    )
    path.write_text(text)
    return path


def draw_scaling(series: Mapping[str, Any], path: Path = SCALING_PNG) -> Path | None:
    """Draw client CPU per poll and memory per trigger against the number of triggers.

    :param series: ``{"triggers": [...], "cpu_ms_per_poll": {variant: [...]}, "kib_per_trigger": {...},
        "max_stall_ms": {...}}`` as the triggerer benchmark records it.
    :return: the path, or ``None`` when there is nothing to draw.
    """
    if not series or not series.get("triggers"):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = series["triggers"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    panels = [
        ("cpu_ms_per_poll", "client CPU per poll (ms)"),
        ("kib_per_trigger", "client memory per trigger (KiB, RSS growth / N)"),
        ("max_stall_ms", "longest event-loop stall, own work (ms)"),
    ]
    styles = {"JobTrigger": "o-", "floor (one shared httpx client)": "s--", "new httpx client per poll": "^:"}
    units = {"cpu_ms_per_poll": "ms/poll", "kib_per_trigger": "KiB/trigger", "max_stall_ms": "ms stall"}
    notes: dict[str, list[str]] = {}
    for ax, (key, title) in zip(axes, panels, strict=True):
        for variant, values in series.get(key, {}).items():
            points = [(n, v) for n, v in zip(counts, values, strict=False) if v is not None]
            if len(points) == 1 and len(counts) > 1:
                # A baseline measured at one load only (new client per poll) is far off the scale
                # of the others: say it in words instead of squashing the lines.
                n, v = points[0]
                notes.setdefault(f"{variant} ({n} jobs)", []).append(f"{v:,.1f} {units[key]}")
                continue
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, styles.get(variant, "o-"), label=variant)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("triggers in one event loop")
        ax.set_xticks(counts)
        ax.grid(alpha=0.3)
    wall = series.get("max_wall_stall_ms", {}).get("JobTrigger")
    if wall:
        points = [(n, v) for n, v in zip(counts, wall, strict=False) if v is not None]
        xs, ys = zip(*points, strict=True)
        axes[2].plot(xs, ys, ".:", color="grey", label="JobTrigger, wall clock (incl. GC)")
    for key, ax in (("cpu_budget_ms", axes[0]), ("kib_budget", axes[1]), ("stall_budget_ms", axes[2])):
        limit = series.get(key)
        if isinstance(limit, list):
            ax.plot(counts[: len(limit)], limit, color="red", linewidth=0.8, label="budget (1.3x floor)")
        elif limit is not None:
            ax.axhline(limit, color="red", linewidth=0.8, label="budget")
    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="upper left")
    if notes:
        text = "; ".join(f"{name}: {', '.join(values)}" for name, values in notes.items())
        fig.text(0.5, 0.01, f"Off the scale: {text}", ha="center", fontsize=9, color="tab:green")
    fig.suptitle(
        f"JobTrigger cost vs load (jobs finishing after {series.get('job_seconds', '?')} s, "
        f"poll interval {series.get('poll_interval', '?')} s; emulator in another process)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
