"""``orchbench history DIR``: the trend of each strategy's wall time across commits, and where it changed.

Every results file of the directory is a point of the history: its commit (``environment.git_commit``; files of one
commit are pooled), ordered by when they were measured. Runs on another interpreter or orchbench version are a
series of their own (:mod:`orchbench.results.pooling`'s rule).

Change points are found over the runs, not over a fixed percentage: binary segmentation, as asv's step detection
finds steps in a series, with the split tested by a two-sided Mann-Whitney U test on the runs of the commits
before and after it, Bonferroni-corrected for every place a step could be. The best split of a series (the one with the
smallest p) is kept when significant, and each side is searched again. The commit right after a split is the one
that changed the time; when its median is higher, it is named as the regression.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.errors import UsageError

ALPHA = 0.05
MIN_RUNS = 3  # fewer runs on a side of a split cannot make any change significant


@dataclass
class Point:
    """One commit of a series: its runs' wall times."""

    commit: str | None
    dirty: bool
    created: str
    walls: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def short(self) -> str:
        return (self.commit or "no commit")[:7] + ("+" if self.dirty else "")


@dataclass
class Change:
    """A significant step in a series: ``at`` is the index of the first point after it."""

    at: int
    before: float  # median of the runs of the segment before
    after: float
    p_value: float

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else float("inf")

    @property
    def slower(self) -> bool:
        return self.after > self.before


@dataclass
class Series:
    """A strategy (on one interpreter) across commits."""

    label: str
    points: list[Point]
    changes: list[Change] = field(default_factory=list)

    def describe(self, change: Change) -> str:
        commit = self.points[change.at]
        way = "slower" if change.slower else "faster"
        factor = change.ratio if change.slower else 1 / change.ratio
        return (
            f"{self.label}: {factor:.2f}× {way} from commit {commit.short} (median {change.before:.4g} s → "
            f"{change.after:.4g} s over the runs before and after, p = {change.p_value:.2g})"
        )


def _p_value(before: Sequence[float], after: Sequence[float]) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(before, after, alternative="two-sided").pvalue)


def change_points(points: Sequence[Point], alpha: float = ALPHA) -> list[Change]:
    """The significant steps of a series, found by binary segmentation over its runs (see the module). Every
    test is corrected for all the places a step could be (Bonferroni over the series' splits), so a history of
    unchanged commits reports a step with a chance below ``alpha``."""
    found: list[Change] = []
    places = max(1, len(points) - 1)

    def search(start: int, end: int) -> None:  # points[start:end]
        candidates = []
        for split in range(start + 1, end):
            before = [w for p in points[start:split] for w in p.walls]
            after = [w for p in points[split:end] for w in p.walls]
            if len(before) >= MIN_RUNS and len(after) >= MIN_RUNS:
                candidates.append((_p_value(before, after), split, before, after))
        if not candidates:
            return
        p_value, split, before, after = min(candidates, key=lambda c: (c[0], c[1]))
        corrected = min(1.0, p_value * places)
        if corrected >= alpha:
            return
        found.append(Change(split, statistics.median(before), statistics.median(after), corrected))
        search(start, split)
        search(split, end)

    search(0, len(points))
    return sorted(found, key=lambda c: c.at)


def load_directory(directory: str | Path) -> list[dict[str, Any]]:
    """Every comparison file in ``directory`` (``*.json``, read and checked as ``report`` reads them)."""
    from orchbench.results.document import load

    folder = Path(directory)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a directory of results files")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise UsageError(f"{folder}: no results files (*.json) in it")
    return [load(path) for path in files]


def build(documents: Sequence[Mapping[str, Any]], alpha: float = ALPHA) -> list[Series]:
    """The series of every strategy (and interpreter) across the documents' commits, with their change points."""
    from orchbench.harness.interpreters import INTERPRETER_KEYS, describe_identity, differing, identity
    from orchbench.results.document import measured_runs

    scopes = {
        (d["settings"].get("workload"), d["settings"].get("case"), d["settings"].get("scenario")) for d in documents
    }
    if len(scopes) > 1:
        shown = "; ".join(" · ".join(str(part) for part in scope) for scope in sorted(scopes, key=str))
        raise UsageError(f"the results measure different things (workload · case · scenario: {shown})")
    ordered = sorted(documents, key=lambda d: str(d.get("created", "")))
    keys = ("commit", "dirty")
    points: dict[tuple[str, str], dict[tuple[Any, ...], Point]] = {}
    idents: dict[str, list[dict[str, Any]]] = {}
    for document in ordered:
        for label in measured_runs(document):
            idents.setdefault(label, []).append(identity(document, label))
    split = {label: differing(found, (*INTERPRETER_KEYS, "orchbench")) for label, found in idents.items()}
    for document in ordered:
        env = document.get("environment") or {}
        for label, runs in measured_runs(document).items():
            ident = identity(document, label)
            name = f"{label} ({describe_identity(ident, split[label])})" if split[label] else label
            walls = [r.wall_s for r in runs if r.timed]
            if not walls:
                continue
            at = tuple(ident.get(k) for k in keys)
            series = points.setdefault((name, label), {})
            if at in series:
                series[at].walls += walls  # another file of the same commit
            else:
                series[at] = Point(
                    env.get("git_commit"), bool(env.get("git_dirty")), str(document.get("created")), walls
                )
    out = []
    for (name, _label), by_commit in points.items():
        line = list(by_commit.values())
        out.append(Series(name, line, change_points(line, alpha)))
    return out


def regressions(series: Sequence[Series]) -> list[tuple[Series, Change]]:
    """Every change that made a strategy slower, with its series."""
    return [(s, c) for s in series for c in s.changes if c.slower]


# --- views ---------------------------------------------------------------------------------------------------------

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    if high <= low:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in values)


def render(series: Sequence[Series]) -> None:
    """Per series: its trend, a row per commit (runs, median, the change it starts), then the regressions."""
    from rich.table import Table
    from rich.text import Text

    from orchbench.support.console import make_console, safe_text

    console = make_console()
    for line in series:
        starts = {c.at: c for c in line.changes}
        trend = sparkline([p.median for p in line.points])
        table = Table(title=Text(f"{safe_text(line.label)}  {trend}"), title_justify="left")
        for header in ("Commit", "Measured", "Runs", "Median [s]", "Change"):
            table.add_column(Text(header), justify="right" if header in ("Runs", "Median [s]") else "left")
        for i, point in enumerate(line.points):
            change = starts.get(i)
            mark = ""
            if change is not None:
                mark = f"{'▲ slower' if change.slower else '▼ faster'} {change.ratio:.2f}× (p = {change.p_value:.2g})"
            table.add_row(
                point.short,
                point.created,
                str(len(point.walls)),
                f"{point.median:.4g}",
                Text(mark, style="bold red" if change and change.slower else "green"),
            )
        console.print(table)
    for line, change in regressions(series):
        console.print(Text(f"regression: {safe_text(line.describe(change))}", style="bold red"))
    if not regressions(series):
        console.print(Text("No significant slow-down in this history.", style="dim"))


def plot_png(series: Sequence[Series]) -> bytes:
    """The median wall of each series across commits, the changes marked."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    commits = list(dict.fromkeys(p.short for s in series for p in s.points))
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for line in series:
        xs = [commits.index(p.short) for p in line.points]
        ax.plot(xs, [p.median for p in line.points], marker="o", label=line.label)
        for change in line.changes:
            point = line.points[change.at]
            ax.annotate(
                "▲" if change.slower else "▼",
                (commits.index(point.short), point.median),
                color="red" if change.slower else "green",
                ha="center",
                va="bottom",
                fontsize=14,
            )
    ax.set_xticks(range(len(commits)), commits, rotation=30, ha="right")
    ax.set_ylabel("median wall [s]")
    ax.set_xlabel("commit (oldest first)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def to_html(series: Sequence[Series], source: str) -> str:
    """One self-contained page: the plot, the regressions, and a table per series."""
    import base64
    from html import escape

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>orchbench history · {escape(source)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem}img{max-width:100%}"
        "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd}"
        ".slower{color:#b00;font-weight:bold}.faster{color:#070}</style></head><body>",
        f"<h1>orchbench history · {escape(source)}</h1>",
        f"<img alt='median wall per commit' src='data:image/png;base64,{base64.b64encode(plot_png(series)).decode()}'>",
    ]
    found = regressions(series)
    parts.append(
        "<ul>" + "".join(f"<li class='slower'>{escape(s.describe(c))}</li>" for s, c in found) + "</ul>"
        if found
        else "<p>No significant slow-down in this history.</p>"
    )
    for line in series:
        starts = {c.at: c for c in line.changes}
        rows = []
        for i, point in enumerate(line.points):
            change = starts.get(i)
            mark = ""
            if change is not None:
                way = "slower" if change.slower else "faster"
                mark = f"<span class='{way}'>{way} {change.ratio:.2f}× (p = {change.p_value:.2g})</span>"
            rows.append(
                f"<tr><td>{escape(point.short)}</td><td>{escape(point.created)}</td><td>{len(point.walls)}</td>"
                f"<td>{point.median:.4g}</td><td>{mark}</td></tr>"
            )
        parts.append(
            f"<h2>{escape(line.label)}</h2><table><tr><th>Commit</th><th>Measured</th><th>Runs</th>"
            f"<th>Median [s]</th><th>Change</th></tr>{''.join(rows)}</table>"
        )
    parts.append(
        f"<p>Changes: binary segmentation over the runs, each split tested by a two-sided Mann-Whitney U test "
        f"at α = {ALPHA:g} (Bonferroni-corrected).</p></body></html>"
    )
    return "\n".join(parts) + "\n"
