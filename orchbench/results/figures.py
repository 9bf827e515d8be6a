"""Per-strategy figures of one or more comparison documents: summaries, speed-ups with their confidence,
significance, efficiency, the flags of wrong or incomplete runs, the winner, and the notes every rendering carries.

Timing figures use the measured runs that finished without a harness error; every measured run counts towards
runs, success and correctness. A strategy with any wrong, incomplete or failed run is flagged and never the
winner: the winner is the fastest (by median wall) of the strategies whose runs are all ok.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchbench.errors import UsageError
from orchbench.results.document import machine_label, measured_runs
from orchbench.results.stats import Comparison, Speedup, Summary, compare_samples, min_p_value, runs_needed, speedup
from orchbench.support.console import safe_text
from orchbench.types import RunResult

# After a figure derived from incomplete runs (it is an upper bound, or compares less work).
PARTIAL = "†"  # after a figure derived from incomplete runs


@dataclass
class StrategyRow:
    """The figures of one strategy. Wall times in seconds, memory in bytes, rates as fractions."""

    strategy: str
    runs: int
    ok_runs: int
    correct_runs: int
    walls: list[float]
    wall: Summary | None
    throughput: float | None
    success_rate: float | None
    cpu_percent: float | None
    peak_rss: float | None
    peak_uss: float | None
    limit_s: float | None
    efficiency: float | None
    problems: dict[str, int] = field(default_factory=dict)
    speedup: Speedup | None = None
    comparison: Comparison | None = None
    relative: float | None = None
    baseline: bool = False
    winner: bool = False
    setting: str | None = None  # the knob values it ran with (see orchbench.results.fairness)
    in_flight: int | None = None  # the most items it let be in flight at once
    cpu_floor_s: float | None = None  # median CPU floor: its runs' and their service's CPU over the cores
    cpu_efficiency: float | None = None  # cpu_floor_s / median wall
    partial: bool = False  # its timed runs include incomplete ones: its ratios are marked (PARTIAL)

    @property
    def flagged(self) -> bool:
        """True when any run was wrong, incomplete or failed."""
        return self.ok_runs < self.runs

    def problem_text(self) -> str:
        return ", ".join(f"{count} {what}" for what, count in self.problems.items())


@dataclass
class Report:
    """Everything the renderers show; build it with :func:`build_report`."""

    workload: str | None
    case: str | None
    scenario: str | None
    unit: str
    baseline: str
    winner: str | None
    rows: list[StrategyRow]
    environment: dict[str, Any]
    sample_periods: list[float]
    alpha: float
    confidence: float
    notes: list[str]
    server: str | None = None  # the host of a service given by URL (its scenario is its own, unknown here)
    tuning: list[list[str]] = field(default_factory=list)  # rows of the tuning table (orchbench.results.fairness)
    accounts: dict[str, Any] = field(default_factory=dict)  # each strategy's typical run's time account
    why: dict[str, str] = field(default_factory=dict)  # each strategy's verdict (orchbench.results.verdicts), if any
    first_errors: dict[str, str] = field(default_factory=dict)  # of strategies with a failed or incomplete run

    @property
    def title(self) -> str:
        parts = [self.workload or "workload"]
        where = ("server", self.server) if self.server else ("scenario", self.scenario)
        parts += [f"{k} {v}" for k, v in (("case", self.case), where) if v]
        return " · ".join(parts) + f" — {machine_label(self.environment)}"


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _problem(run: RunResult) -> str:
    if run.mismatch and run.mismatch.get("against") == "agreement":
        return "disagreeing"
    return {"wrong": "wrong output"}.get(run.verdict, run.verdict)


def _share(floor: float | None, wall: Summary | None, partial: bool) -> float | None:
    """A floor ÷ the median wall. A floor is the time for every item, so over runs that gave up on some items the
    ratio is only an upper bound, and never above 100 %."""
    if floor is None or wall is None or wall.median <= 0:
        return None
    return min(floor / wall.median, 1.0) if partial else floor / wall.median


def _row(name: str, runs: list[RunResult]) -> StrategyRow:
    timed = [r for r in runs if r.timed]
    walls = [r.wall_s for r in timed]
    wall = Summary.of(walls) if walls else None
    items = sum(r.items for r in runs)
    limit = _median(r.limit_s for r in runs)
    cpu_floor = _median(r.cpu_floor_s for r in timed)
    partial = any(not r.complete for r in timed)
    return StrategyRow(
        strategy=name,
        runs=len(runs),
        ok_runs=sum(r.ok for r in runs),
        correct_runs=sum(r.correct is True for r in runs),
        walls=walls,
        wall=wall,
        throughput=_median(r.throughput for r in timed),
        success_rate=sum(r.succeeded for r in runs) / items if items else None,
        cpu_percent=_median(r.cpu_percent for r in timed),
        peak_rss=_median(r.peak_rss for r in timed),
        peak_uss=_median(r.peak_uss for r in timed),
        limit_s=limit,
        efficiency=_share(limit, wall, partial),
        problems=dict(Counter(_problem(r) for r in runs if not r.ok)),
        cpu_floor_s=cpu_floor,
        cpu_efficiency=_share(cpu_floor, wall, partial),
        partial=partial,
    )


def _same(docs: Sequence[Mapping[str, Any]], key: str) -> Any:
    values = {d["settings"].get(key) for d in docs}
    if len(values) > 1:
        shown = ", ".join(sorted(map(str, values)))
        raise UsageError(f"cannot combine comparisons of different {key}s ({shown})")
    return values.pop()


def build_report(
    documents: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    baseline: str | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Report:
    """Pool the measured runs of one or more documents (same workload, case, scenario) into a report."""
    docs = [documents] if isinstance(documents, Mapping) else list(documents)
    if not docs:
        raise UsageError("no comparison to report")
    workload, case, scenario = (_same(docs, k) for k in ("workload", "case", "scenario"))
    from orchbench.results.pooling import separate

    separated, unpooled = separate(docs)  # runs of other interpreters, commits or orchbench versions: rows of their own
    docs = list(separated)
    grouped = measured_runs(docs)
    if not grouped:
        raise UsageError("the comparison holds no measured runs")
    baseline = baseline or docs[0]["settings"].get("baseline") or next(iter(grouped))
    if baseline not in grouped:  # split by separate(): the first of its rows
        baseline = next((name for name in grouped if name.startswith(f"{baseline} (")), baseline)
    if baseline not in grouped:
        raise UsageError(f"baseline strategy {baseline!r} has no measured runs (have: {', '.join(grouped)})")

    rows = [_row(name, runs) for name, runs in grouped.items()]
    from orchbench.results import fairness

    record = fairness.record_of(docs[0])
    for row in rows:
        row.setting = fairness.setting_text(row.strategy, grouped[row.strategy], record)
        row.in_flight = fairness.in_flight_of(grouped[row.strategy])
    base = next(r for r in rows if r.strategy == baseline)
    base.baseline = True
    for row in rows:
        if row is not base and row.walls and base.walls:
            row.speedup = speedup(base.walls, row.walls, confidence, resamples, seed)
            row.comparison = compare_samples(base.walls, row.walls, alpha)
    rows.sort(key=lambda r: (r.wall is None, r.wall.median if r.wall else 0.0))
    eligible = [r for r in rows if r.wall and not r.flagged]
    winner = eligible[0] if eligible else None
    if winner:
        winner.winner = True
    # Relative to the winner, so a fast but wrong strategy does not become everyone's yardstick.
    reference = winner or (rows[0] if rows[0].wall else None)
    for row in rows:
        if row.wall and reference and reference.wall:
            row.relative = row.wall.median / reference.wall.median

    from orchbench.results import verdicts

    said = verdicts.notes(grouped)
    notes = (
        unpooled
        + _verification_notes(grouped, docs)
        + _notes(rows, winner, base, alpha, docs)
        + fairness.notes(rows, docs)
        + said.lines
    )
    periods = sorted({r.sample_period_s for runs in grouped.values() for r in runs if r.sample_period_s})
    unit = safe_text(docs[0]["settings"].get("unit") or "items")  # a plugin's text: no escape sequence
    return Report(
        workload,
        case,
        scenario,
        unit,
        baseline,
        winner.strategy if winner else None,
        rows,
        dict(docs[0].get("environment", {})),
        periods,
        alpha,
        confidence,
        notes,
        docs[0]["settings"].get("server"),
        fairness.tuning_rows(docs),
        said.accounts,
        said.why,
        said.first_errors,
    )


def _verification_notes(grouped: Mapping[str, list[RunResult]], docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the outputs were checked against, and the values that differ (expected and actual)."""
    from orchbench.harness.verify import describe

    notes = [
        f"Outputs unverified (no reference), compared across strategies: {a['summary']}."
        for a in (d["settings"].get("agreement") for d in docs)
        if a
    ]
    for name, runs in grouped.items():
        wrong = next((r.mismatch for r in runs if r.mismatch and r.mismatch.get("against") != "agreement"), None)
        if wrong:
            notes.append(f"{name}: against the {wrong['against']}, {describe(wrong['count'], wrong['first'])}.")
    return notes


def _notes(
    rows: list[StrategyRow],
    winner: StrategyRow | None,
    base: StrategyRow,
    alpha: float,
    docs: Sequence[Mapping[str, Any]],
) -> list[str]:
    notes: list[str] = []
    flagged = [r.strategy for r in rows if r.flagged]
    if flagged:
        notes.append(f"Not ranked, some runs wrong, incomplete or failed: {', '.join(flagged)}.")
    if winner is None:
        notes.append("No winner: no strategy has all its runs correct and complete.")
    else:
        others = [r for r in rows if r.wall and not r.flagged and r is not winner]
        if others:
            verdict = compare_samples(others[0].walls, winner.walls, alpha)
            if not verdict.significant:
                notes.append(
                    f"{winner.strategy} is fastest, but not significantly faster than "
                    f"{others[0].strategy} (p={verdict.p_value:.3g})."
                )
    sizes = [min_p_value(len(base.walls), len(r.walls)) for r in rows if r is not base and r.walls]
    if base.walls and sizes and min(sizes) >= alpha:
        need = runs_needed(alpha)
        notes.append(
            f"Too few runs for any difference to be significant at α = {alpha:g}: use at least {need} iterations."
        )
    machines = {machine_label(d.get("environment", {})) for d in docs}
    if len(machines) > 1:
        notes.append(f"Runs pooled from {len(machines)} different machines: {'; '.join(sorted(machines))}.")
    return notes + _measuring_notes(docs)


def _measuring_notes(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the instrument said about a strategy's measured runs (``RunResult.measure_notes``), once per note."""
    from orchbench.results.document import measured_runs

    said = []
    for name, runs in measured_runs(docs).items():
        for note in dict.fromkeys(note for run in runs for note in run.measure_notes):
            count = sum(note in run.measure_notes for run in runs)
            said.append(f"{name}, {count} of {len(runs)} runs: {note}.")
    return said


def footnotes(report: Report) -> list[str]:
    """The explanations printed under every rendering."""
    if report.sample_periods:
        shown = "/".join(f"{p * 1000:g}" for p in report.sample_periods)
        period = f"every {shown} ms for the sum across processes (each process's own peak is the kernel's)"
    else:
        period = "at a period the runs did not record"
    return [
        f"Peak RSS of the whole process tree, sampled {period}; RSS double-counts pages shared between "
        "processes, so it overstates a multi-process strategy's memory.",
        f"Speed-up = {report.baseline} median / strategy median, with a {report.confidence:.0%} bootstrap CI; "
        f"verdict from a two-sided Mann-Whitney U test at α = {report.alpha:g}.",
        "Efficiency = the workload's best possible time (limit) / median wall; 100 % is the physical best"
        + (
            "; — where the workload cannot tell its limit (unknown)."
            if any(r.limit_s is None for r in report.rows)
            else "."
        ),
        *(
            [
                "CPU efficiency = the CPU floor (the runs' CPU, and their service's, spread over every core) / median "
                "wall: the wall cannot go below the CPU floor either; far below 100 %, the cores were not the limit."
            ]
            if any(r.cpu_efficiency is not None for r in report.rows)
            else []
        ),
        *(
            [
                f"{PARTIAL} From runs that gave up on some items (incomplete): throughput counts only the items that "
                "succeeded; efficiency and CPU efficiency are upper bounds, at most 100 % (a floor is the time for "
                "every item); a speed-up or relative figure compares less work."
            ]
            if any(r.partial for r in report.rows)
            else []
        ),
        *report.notes,
    ]
