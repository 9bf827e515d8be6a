"""The original exercise's metrics table, which ``orchbench benchmark`` prints after its comparisons."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from orchbench import Column, RunResult, make_console, print_table, safe_text, units

if TYPE_CHECKING:
    from rich.console import Console


def _number(value: float | None, fmt: str, scale: float = 1.0) -> str:
    return "—" if value is None else format(value * scale, fmt)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _correct(run: RunResult) -> str:
    if run.error is not None:
        return f"failed: {run.error}"
    if run.correct is None:
        return "unverified"
    return "yes" if run.correct else "NO"


def render_metrics(
    results: Sequence[RunResult], console: Console | None = None, unit: str = "items", title: str = "Benchmark"
) -> None:
    """The original exercise's metrics, one row per run: runtime, success rate, throughput, peak memory, CPU
    utilisation."""
    from rich.text import Text

    console = console or make_console()

    def column(header: str, cell: Callable[[RunResult], Any], numeric: bool = True) -> Column:
        return Column(header, [safe_text(cell(r)) for r in results], numeric=numeric)

    cols = [
        column("Case", lambda r: str(r.spec.get("case") or "—"), numeric=False),
        column("Strategy", lambda r: r.name, numeric=False),
        column("Runtime [s]", lambda r: f"{r.wall_s:.3f}"),
        column("Success rate", lambda r: _percent(r.success_rate)),
        column("Correct", _correct, numeric=False),
        column(f"Throughput [{unit}/s]", lambda r: f"{r.throughput:.1f}"),
        column("Peak memory [MiB]", lambda r: _number(r.peak_rss, ".1f", 1 / units.MIB)),
        column(
            "CPU utilisation", lambda r: _number(r.cpu_percent, ".0f") + (" %" if r.cpu_percent is not None else "")
        ),
    ]
    styles = [None if r.ok else "red" for r in results]
    print_table(console, cols, Text(safe_text(title)), styles, key_columns=2, text_columns=2)
    periods = sorted({r.sample_period_s for r in results if r.sample_period_s})
    every = f"every {'/'.join(f'{p * 1000:g}' for p in periods)} ms" if periods else "periodically"
    console.print(
        Text(
            f"• Peak memory: RSS of the whole process tree, sampled {every}; RSS double-counts pages "
            "shared between processes.",
            style="dim",
        )
    )
