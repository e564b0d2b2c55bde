"""The benchmark report writers work on made-up figures (no benchmark is run, no timing is asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import Report, budget, draw_scaling, info, text_table, write_json, write_markdown


def _report() -> Report:
    return Report(
        figures=[
            budget("triggerer", "CPU per poll / floor", 1.1, 1.3, "x"),
            budget("export", "throughput / raw", 0.5, 0.8, "x", at_least=True),
            info("parse", "dbt | baseline", 300.0, "ms"),
        ]
    )


def test_a_failed_budget_fails_the_report_and_shows_in_every_format(tmp_path: Path) -> None:
    report = _report()

    assert report.failed
    assert [f.verdict for f in report.figures] == ["pass", "FAIL", "-"]
    assert "FAIL" in text_table(report)
    data = json.loads(write_json(report, tmp_path / "results.json").read_text())
    assert [f["verdict"] for f in data["figures"]] == ["pass", "FAIL", "-"]
    markdown = write_markdown(report, tmp_path / "RESULTS.md").read_text()
    assert "| export | throughput / raw | 0.50 x | >= 0.8 | FAIL |" in markdown
    assert "dbt \\| baseline" in markdown  # a pipe in a cell does not break the table


def test_a_crashed_benchmark_fails_the_report() -> None:
    report = Report(figures=[budget("parse", "ms", 10.0, 50.0)], errors={"export": "RuntimeError: boom"})

    assert report.failed
    assert "crashed" in text_table(report)


def test_the_scaling_chart_is_drawn(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    series = {
        "triggers": [100, 1000],
        "cpu_ms_per_poll": {"JobTrigger": [1.0, 1.2], "floor (one shared httpx client)": [0.9, 1.0]},
        "kib_per_trigger": {"JobTrigger": [30.0, 25.0]},
        "max_stall_ms": {"JobTrigger": [10.0, 50.0]},
        "cpu_budget_ms": [1.17, 1.3],
        "kib_budget": 100.0,
        "stall_budget_ms": 200.0,
    }

    path = draw_scaling(series, tmp_path / "scaling.png")

    assert path is not None
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
