"""PNG plots of a comparison and of a parameter sweep, drawn with matplotlib's Agg renderer (no display needed).

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas rather than through pyplot, so plotting
never touches global state or a GUI backend. matplotlib is imported only inside the functions.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchbench.results.document import measured_runs
from orchbench.results.figures import Report, build_report
from orchbench.support.units import MIB

OK_COLOUR = "#3b75af"
BAD_COLOUR = "#c0392b"
WIN_COLOUR = "#2e8b57"


WIDE_IN = 9.0  # a figure's width in inches, at DPI: 990 px
NARROW_IN = 3.6  # for a phone's screen (375 px wide): 396 px, shown at nearly its own size
DPI = 110
_width = ContextVar("figure_width", default=WIDE_IN)


@contextmanager
def narrow(width_in: float = NARROW_IN) -> Iterator[None]:
    """Draw the figures of this block ``width_in`` inches wide (titles wrapped, tuning panels in one column)."""
    token = _width.set(width_in)
    try:
        yield
    finally:
        _width.reset(token)


def _figure(rows: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_width.get(), 1.6 + 0.55 * max(rows, 1)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _wrap(text: str, points: float = 12.0) -> str:
    """``text`` wrapped at whole words to the figure's width (a character is at most 0.6 of the font size wide)."""
    chars = max(20, int(_width.get() * 72 / (0.6 * points)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _headline(report: Report, what: str) -> str:
    return _wrap(f"{what}\n{report.title}")


def _label(row: Any) -> str:
    if row.flagged:
        return f"{row.strategy} (not all runs ok)"
    return f"{row.strategy} (winner)" if row.winner else row.strategy


def _colour(row: Any) -> str:
    return BAD_COLOUR if row.flagged else (WIN_COLOUR if row.winner else OK_COLOUR)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    from orchbench.results.stats import Summary

    s = Summary.of(values)
    return s.q1, s.median, s.q3


def _stem(report: Report) -> str:
    parts = [p for p in (report.workload, report.case, report.scenario) if p]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts) or "comparison")


def _save(fig: Any, path: Path) -> Path:
    from orchbench.harness.overwrite import check_write

    check_write(path, "the plot")  # never over a file this command reads
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _wall_plot(report: Report, path: Path) -> Path:
    import numpy as np

    rows = [r for r in report.rows if r.walls][::-1]  # fastest at the top
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    positions = np.arange(len(rows))
    boxes = ax.boxplot(
        [r.walls for r in rows],
        positions=positions,
        orientation="horizontal",
        widths=0.5,
        showfliers=False,
        patch_artist=True,
        medianprops={"color": "black"},
    )
    rng = np.random.default_rng(0)
    for pos, row, box in zip(positions, rows, boxes["boxes"], strict=True):
        box.set(facecolor=_colour(row), alpha=0.35)
        jitter = rng.uniform(-0.15, 0.15, len(row.walls))
        ax.scatter(row.walls, pos + jitter, s=14, color=_colour(row), zorder=3)
    limits = [r.limit_s for r in rows if r.limit_s]
    if limits:
        ax.axvline(min(limits), color="grey", linestyle="--", linewidth=1, label="limit (best possible time)")
        ax.legend(loc="lower right", fontsize="small")
    if wants_log_axis([w for r in rows for w in r.walls] + limits):
        ax.set_xscale("log")
    ax.set_yticks(positions, [_label(r) for r in rows])
    ax.set_xlabel("wall time [s]" + (", log scale" if ax.get_xscale() == "log" else ""))
    runs = sorted({len(r.walls) for r in rows})
    fig.suptitle(_headline(report, f"Wall time per strategy ({'/'.join(map(str, runs))} runs each, box = IQR)"))
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _bars(
    report: Report, path: Path, values: dict[str, list[float]], xlabel: str, what: str, note: str | None = None
) -> Path:
    """Horizontal bars of the median, whiskers from first to third quartile, best (largest/smallest) at top."""
    rows = [r for r in report.rows if values.get(r.strategy)]
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    stats = [_quartiles(values[r.strategy]) for r in rows]
    order = list(range(len(rows)))[::-1]
    medians = [stats[i][1] for i in order]
    errors = [[stats[i][1] - stats[i][0] for i in order], [stats[i][2] - stats[i][1] for i in order]]
    ax.barh(range(len(rows)), medians, xerr=errors, color=[_colour(rows[i]) for i in order], alpha=0.8, capsize=4)
    for y, value in enumerate(medians):
        ax.annotate(f"{value:.3g}", (value, y), xytext=(4, 6), textcoords="offset points", fontsize="small")
    ax.set_yticks(range(len(rows)), [_label(rows[i]) for i in order])
    ax.set_xlabel(xlabel)
    fig.suptitle(_headline(report, what))
    ax.grid(axis="x", alpha=0.3)
    if note:
        fig.supxlabel(_wrap(note, 8.0), fontsize="x-small", color="dimgrey")
    return _save(fig, path)


def _ranked(report: Report, values: dict[str, list[float]], best_high: bool) -> Report:
    """The report with only the strategies that have values, best median first."""
    rows = [r for r in report.rows if values.get(r.strategy)]
    rows.sort(key=lambda r: _quartiles(values[r.strategy])[1], reverse=best_high)
    return replace(report, rows=rows)


def plot_comparison(doc: Mapping[str, Any], out_dir: str | os.PathLike[str], stem: str | None = None) -> list[Path]:
    """Write wall-time, throughput and (when measured) peak-memory PNGs of a comparison; return their paths."""
    report = build_report(doc, resamples=200)  # the plots show no interval: few resamples suffice
    out = Path(out_dir)
    stem = stem or _stem(report)
    timed = {name: [r for r in runs if r.timed] for name, runs in measured_runs(doc).items()}
    written = [_wall_plot(report, out / f"{stem}-wall.png")]

    throughput = {name: [r.throughput for r in runs] for name, runs in timed.items()}
    written.append(
        _bars(
            _ranked(report, throughput, best_high=True),
            out / f"{stem}-throughput.png",
            throughput,
            f"throughput [{report.unit}/s], median and IQR",
            "Throughput per strategy (higher is better)",
        )
    )

    memory = {name: [r.peak_rss / MIB for r in runs if r.peak_rss] for name, runs in timed.items()}
    if any(memory.values()):
        periods = "/".join(f"{p * 1000:g}" for p in report.sample_periods) or "?"
        note = f"RSS of the whole process tree, sampled every {periods} ms; it double-counts pages shared by processes."
        written.append(
            _bars(
                _ranked(report, memory, best_high=False),
                out / f"{stem}-memory.png",
                memory,
                "peak RSS [MiB], median and IQR",
                "Peak memory per strategy (lower is better)",
                note,
            )
        )
    from orchbench.results.fairness import record_of, tunings

    first = doc if isinstance(doc, Mapping) else next(iter(doc))  # the HTML report passes several documents
    found = tunings(record_of(first))
    if found:
        written.append(_tuning_plot(report, found, out / f"{stem}-tuning.png"))
    from orchbench.views.account import plot

    written += [Path(p) for p in plot(report.accounts, str(out / stem))]
    return written


def _tuning_plot(report: Report, found: Mapping[str, Any], path: Path) -> Path:
    """One panel per tuned knob: the wall time of each probe of its search against the knob's value, the chosen
    value starred, probes that failed or were stopped as red crosses along the top, the range searched shaded."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [(label, knob) for label, t in found.items() for knob in t.ranges]
    across = 1 if _width.get() < WIDE_IN / 2 else min(3, len(panels))
    down = -(-len(panels) // across)
    width = _width.get() if across == 1 else 4.2 * across
    fig = Figure(figsize=(width, 3.4 * down), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    for i, (label, knob) in enumerate(panels, 1):
        t = found[label]
        ax = fig.add_subplot(down, across, i)
        # the probes of this knob's search (the other knobs held still), the defaults and the confirmations
        probes = [p for p in t.probes if knob in p.options and p.phase in (None, knob)]
        good = sorted((p.options[knob], p.wall_s) for p in probes if p.ok)
        bad = [p.options[knob] for p in probes if not p.ok]
        low, high = t.ranges[knob]
        ax.axvspan(low, high, color="grey", alpha=0.08, label="range searched")
        if good:
            xs = sorted({x for x, _ in good})
            medians = [
                sorted(w for x2, w in good if x2 == x)[(sum(1 for x2, _ in good if x2 == x) - 1) // 2] for x in xs
            ]
            ax.plot(xs, medians, color=OK_COLOUR, linewidth=1)
            ax.scatter([x for x, _ in good], [w for _, w in good], s=16, color=OK_COLOUR, zorder=3, label="probe")
            top = max(w for _, w in good) * 1.1
        else:
            top = 1.0
        if bad:
            ax.scatter(
                bad, [top] * len(bad), marker="x", s=50, color=BAD_COLOUR, zorder=4, label="failed or stopped (worse)"
            )
        chosen = t.chosen.get(knob)
        best = [p.wall_s for p in probes if p.ok and p.options == t.chosen]  # the chosen setting's own probes
        if chosen is not None and best:
            ax.scatter([chosen], [min(best)], marker="*", s=160, color=WIN_COLOUR, zorder=5, label=f"chosen: {chosen}")
        if high > max(low, 1) * 10:
            ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel(knob + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.set_ylabel("wall time [s]")
        edge = " — at the edge" if knob in t.edges else ""
        ax.set_title(_wrap(f"{label}: {len(t.probes)} probes, {t.cost_s:.0f} s{edge}", 10.0), fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle(_headline(report, "Tuning: wall time of each probe by knob value"))
    return _save(fig, path)


def wants_log_axis(values: Iterable[float]) -> bool:
    """True when positive values span more than 10×, where a linear axis would crush the small ones."""
    present = [v for v in values if v is not None]
    return bool(present) and min(present) > 0 and max(present) / min(present) > 10


@dataclass(frozen=True)
class SweepPoint:
    """One measured point of a sweep: a strategy at one option value, its median wall and throughput."""

    strategy: str
    value: Any  # the option's value: a number, or a bool or text (then the axis shows the values in order)
    median_wall_s: float
    throughput: float | None = None
    ok: bool = True


def _point(p: SweepPoint | Mapping[str, Any]) -> SweepPoint:
    return p if isinstance(p, SweepPoint) else SweepPoint(**dict(p))


def _category(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def plot_sweep(
    points: Iterable[SweepPoint | Mapping[str, Any]],
    out_path: str | os.PathLike[str],
    *,
    option: str = "value",
    metric: str = "wall",
    unit: str = "items",
    title: str | None = None,
) -> Path:
    """A scaling curve: x = option value, y = median wall (``metric="wall"``) or throughput, a line per strategy.

    The x axis is logarithmic when the values span more than 10×. Points whose runs were not all ok are
    marked with a red cross.
    """
    if metric not in {"wall", "throughput"}:
        raise ValueError(f"metric must be 'wall' or 'throughput', not {metric!r}")
    data = [_point(p) for p in points]
    if not data:
        raise ValueError("no sweep points to plot")
    fig = _figure(6)
    ax = fig.add_subplot()
    numeric = all(isinstance(p.value, (int, float)) and not isinstance(p.value, bool) for p in data)
    categories = list(dict.fromkeys(_category(p.value) for p in data))

    def x(p: SweepPoint) -> float:
        return p.value if numeric else categories.index(_category(p.value))

    flagged_label = "not all runs ok"
    for name in dict.fromkeys(p.strategy for p in data):
        line = sorted((p for p in data if p.strategy == name), key=x)
        pairs = [(p, p.median_wall_s if metric == "wall" else p.throughput) for p in line]
        pairs = [(p, y) for p, y in pairs if y is not None]
        ax.plot([x(p) for p, _ in pairs], [y for _, y in pairs], marker="o", label=name)
        bad = [(x(p), y) for p, y in pairs if not p.ok]
        if bad:
            ax.scatter(
                [x for x, _ in bad],
                [y for _, y in bad],
                marker="x",
                s=80,
                color=BAD_COLOUR,
                zorder=4,
                label=flagged_label,
            )
            flagged_label = "_nolegend_"
    if not numeric:
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels(categories)
        ax.set_xlim(-0.5, len(categories) - 0.5)
    values = sorted({p.value for p in data}) if numeric else []
    if numeric and wants_log_axis(values):
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        if len(values) <= 12:  # label the measured values themselves, not powers of ten
            ax.set_xticks(values)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(option + (" (log scale)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel("median wall time [s]" if metric == "wall" else f"median throughput [{unit}/s]")
    ax.set_ylim(bottom=0)
    ax.set_title(title or f"{'Wall time' if metric == 'wall' else 'Throughput'} as {option} grows")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, Path(out_path))
