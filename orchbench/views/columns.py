"""The columns of a comparison's table, each a header and one cell per strategy, shared by the terminal and
Markdown views: one time unit for the table, marks for the winner, the baseline and partial figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchbench.results.figures import PARTIAL, Report, StrategyRow
from orchbench.support.console import safe_text
from orchbench.support.units import MIB
from orchbench.views.table import Column

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class TimeFormat:
    """One unit and precision for every time in a table: ms below a second, about four significant digits."""

    unit: str
    scale: float
    decimals: int

    @classmethod
    def for_rows(cls, rows: Sequence[StrategyRow]) -> TimeFormat:
        medians = [r.wall.median for r in rows if r.wall]
        largest = max(medians, default=1.0)
        unit, scale = ("ms", 1000.0) if largest < 1.0 else ("s", 1.0)
        digits = len(str(int(largest * scale)))  # before the point
        return cls(unit, scale, max(0, min(3, 4 - digits)) if largest * scale >= 1 else 3)

    def __call__(self, seconds: float | None) -> str:
        return "—" if seconds is None else f"{seconds * self.scale:.{self.decimals}f}"


def _num(value: float | None, fmt: str = ".3f", scale: float = 1.0) -> str:
    return "—" if value is None else format(value * scale, fmt)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _partial(row: StrategyRow, text: str) -> str:
    return text + PARTIAL if row.partial and text != "—" else text


def _speedup_text(row: StrategyRow) -> str:
    if row.baseline:
        return "baseline"
    if row.speedup is None:
        return "—"
    s = row.speedup
    return _partial(row, f"{s.ratio:.2f}×") + f" [{s.low:.2f}–{s.high:.2f}]"


def _verdict_text(row: StrategyRow) -> str:
    if row.comparison is None:
        return "—"
    return f"{row.comparison.verdict} (p={row.comparison.p_value:.3g})"


def _mean_sd(row: StrategyRow, time: TimeFormat) -> str:
    if row.wall is None:
        return "—"
    return f"{time(row.wall.mean)} ± {time(row.wall.stdev)}"


def _label(row: StrategyRow) -> str:
    marks = [m for m, on in (("winner", row.winner), ("baseline", row.baseline)) if on]
    if row.flagged:
        marks.append(row.problem_text())
    return row.strategy + (f" ({'; '.join(marks)})" if marks else "")


def columns(report: Report) -> list[Column]:
    """The columns of the comparison table, in export order, one cell per strategy row."""
    time = TimeFormat.for_rows(report.rows)
    t = f" [{time.unit}]"
    rows = report.rows

    def each(cell: Any) -> list[str]:
        return [safe_text(cell(r)) for r in rows]  # names and problems come from saved files: shown as text

    return [
        Column("Strategy", each(_label), numeric=False),
        *(
            [Column("Setting", each(lambda r: r.setting or "—"), "detail", numeric=False)]
            if any(r.setting for r in rows)
            else []
        ),
        *(
            [Column("In flight", each(lambda r: "—" if r.in_flight is None else str(r.in_flight)), "detail")]
            if any(r.in_flight for r in rows)
            else []
        ),
        Column("Mean ± σ" + t, each(lambda r: _mean_sd(r, time)), "export"),
        Column("Median" + t, each(lambda r: time(r.wall and r.wall.median))),
        Column("IQR" + t, each(lambda r: time(r.wall and r.wall.iqr))),
        Column("Min" + t, each(lambda r: time(r.wall and r.wall.min)), "detail"),
        Column("Max" + t, each(lambda r: time(r.wall and r.wall.max)), "detail"),
        Column("Relative", each(lambda r: _partial(r, _num(r.relative, ".2f"))), "export"),
        Column("Correct / runs", each(lambda r: f"{r.correct_runs} / {r.runs}")),
        Column("Success", each(lambda r: _pct(r.success_rate))),
        Column(f"Throughput [{report.unit}/s]", each(lambda r: _partial(r, _num(r.throughput, ".1f"))), "detail"),
        Column(
            "CPU", each(lambda r: _num(r.cpu_percent, ".0f") + (" %" if r.cpu_percent is not None else "")), "detail"
        ),
        Column("Peak RSS [MiB]", each(lambda r: _num(r.peak_rss, ".1f", 1 / MIB)), "detail"),
        Column("Efficiency", each(lambda r: _partial(r, _pct(r.efficiency))), "detail"),
        *(
            [Column("CPU efficiency", each(lambda r: _partial(r, _pct(r.cpu_efficiency))), "detail")]
            if any(r.cpu_efficiency is not None for r in rows)
            else []
        ),
        Column(
            f"Speed-up vs {safe_text(report.baseline)} ({report.confidence:.0%} CI)", each(_speedup_text), numeric=False
        ),
        Column("Verdict", each(_verdict_text), numeric=False),
    ]


def cells(report: Report) -> tuple[list[str], list[list[str]]]:
    """Every column: a header and one row of cells per strategy."""
    cols = columns(report)
    return [c.header for c in cols], [list(cells) for cells in zip(*(c.cells for c in cols), strict=True)]


def left_out(report: Report) -> str:
    """Which columns the terminal leaves to the other formats, and how to see them."""
    names = " and ".join(c.header.split(" [")[0] for c in columns(report) if c.place == "export")
    return (
        f"{names} are not shown here: `orchbench report RESULTS.json --format markdown` (or csv, json, html) "
        "shows every column."
    )
