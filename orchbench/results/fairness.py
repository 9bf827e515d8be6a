"""Fair comparisons: the settings every strategy runs with, chosen by ``--tune``, fixed by ``--budget N`` or left
to the defaults, recorded in the results and stated by the report.

The record is ``settings["fairness"]`` of a comparison document::

    {"mode": "defaults" | "budget" | "tune", "budget": N, "tune_budget": "24 runs",
     "knobs": {label: [option, ...]}, "skipped": {label: why}, "tuning": {label: Tuning.to_dict()}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from orchbench.api import resolve_options
from orchbench.errors import UsageError

if TYPE_CHECKING:
    from orchbench.harness.tune import ProbeProgress, TuneBudget, Tuning
    from orchbench.results.stats import Summary
    from orchbench.types import RunResult, RunSpec


class StrategyRow(Protocol):
    """What the notes read of a strategy's row in a comparison (the report's rows have it, and more)."""

    @property
    def strategy(self) -> str: ...
    @property
    def in_flight(self) -> int | None: ...
    @property
    def wall(self) -> Summary | None: ...
    @property
    def flagged(self) -> bool: ...
    @property
    def winner(self) -> bool: ...


def prepare(
    specs: list[tuple[str, RunSpec]],
    *,
    budget: int | None = None,
    tune: TuneBudget | None = None,
    progress: ProbeProgress | None = None,
) -> tuple[list[tuple[str, RunSpec]], dict[str, Any]]:
    """The specs as they will be compared (tuned, or given the budget) and the record that says how; ``progress``
    shows tuning's probes (by default nothing)."""
    from orchbench.harness.plugins import get_registry

    if budget is not None and tune is not None:
        raise UsageError("give --tune or --budget, not both")
    registry = get_registry()
    record: dict[str, Any] = {"mode": "defaults", "knobs": {}, "skipped": {}}
    for label, spec in specs:
        cls = registry.strategy(spec.strategy)
        record["knobs"][label] = [k for k, opt in cls.options.items() if opt.tune is not None]
        if label in registry.presets() and (budget is not None or tune is not None):
            record["skipped"][label] = "a preset: its own settings"
    if budget is not None:
        specs = apply_budget(specs, budget, record["skipped"])
        record.update(mode="budget", budget=budget)
    elif tune is not None:
        from orchbench.harness.tune import TuningInterrupted, silent, tune_specs

        try:
            specs, tunings = tune_specs(specs, tune, progress or silent)
        except TuningInterrupted as stop:  # the probes measured so far are kept, in the record it carries
            record.update(
                mode="tune", tune_budget=tune.describe(), tuning={k: t.to_dict() for k, t in stop.searches.items()}
            )
            stop.record = record
            raise
        record.update(mode="tune", tune_budget=tune.describe(), tuning={k: t.to_dict() for k, t in tunings.items()})
        for label, _ in specs:
            if label not in tunings and label not in record["skipped"]:
                record["skipped"][label] = "no tunable option left unset"
    return specs, record


def apply_budget(specs: list[tuple[str, RunSpec]], n: int, skipped: dict[str, str]) -> list[tuple[str, RunSpec]]:
    """Every strategy's options for exactly ``n`` items in flight (its ``Strategy.budget``); presets and
    strategies that cannot take a budget keep their settings, and ``skipped`` says why."""
    from orchbench.harness.noise import usable_cores
    from orchbench.harness.plugins import get_registry

    if n < 1:
        raise UsageError(f"--budget {n}: give at least 1 item in flight")
    registry = get_registry()
    out = []
    for label, spec in specs:
        cls = registry.strategy(spec.strategy)
        options = None if label in skipped else cls.budget(n, usable_cores())
        if options is None:
            skipped.setdefault(label, "it takes no in-flight budget")
            out.append((label, spec))
            continue
        clash = sorted(set(options) & set(spec.strategy_options))
        if clash:
            raise UsageError(f"--budget {n} sets the {clash[0]} of {label}: do not --set it as well")
        given = {**spec.strategy_options, **options}
        try:
            resolve_options(cls.options, given, f"strategy {spec.strategy!r}")
        except UsageError as exc:
            raise UsageError(f"--budget {n}: {exc}") from None
        out.append((label, spec.replace(strategy_options=given)))
    return out


# --- reading the record back ---------------------------------------------------------------------------------


def record_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document's fairness record ({} for a document without one); a damaged one is one UsageError line."""
    record = document.get("settings", {}).get("fairness")
    if record is None:
        return {}
    try:
        if not isinstance(record, dict) or record.get("mode") not in ("defaults", "budget", "tune"):
            raise ValueError("mode")
        for key in ("knobs", "skipped", "tuning"):
            if not isinstance(record.get(key, {}), dict):
                raise ValueError(key)
        tunings(record)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"malformed orchbench comparison: its fairness record is damaged ({exc})") from None
    return record


def probes_kept(document: Mapping[str, Any]) -> int:
    """The tuning probes a document holds (what an interrupted tuning kept)."""
    return sum(len(t.probes) for t in tunings(record_of(document)).values())


def tunings(record: Mapping[str, Any]) -> dict[str, Tuning]:
    from orchbench.harness.tune import Tuning

    return {label: Tuning.from_dict(data) for label, data in record.get("tuning", {}).items()}


def _first(runs: Sequence[RunResult]) -> RunResult | None:
    return next((r for r in runs if r.error is None), runs[0] if runs else None)


def setting_text(label: str, runs: Sequence[RunResult], record: Mapping[str, Any]) -> str | None:
    """The knob values a strategy ran with, e.g. ``workers=256``."""
    run = _first(runs)
    if run is None:
        return None
    knobs = record.get("knobs", {}).get(label)
    if knobs is None:
        knobs = [k for k in ("workers", "concurrency", "actors") if k in run.resolved_options]
    shown = " ".join(f"{k}={run.resolved_options[k]}" for k in knobs if run.resolved_options.get(k) is not None)
    return shown or None


def in_flight_of(runs: Sequence[RunResult]) -> int | None:
    run = _first(runs)
    return run.in_flight if run is not None else None


def notes(rows: Sequence[StrategyRow], docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the report must say about the settings: a budget's exceptions, tuned settings at the edge of their
    range or cut short by the budget, a winner that tuning changed, and strategies at different in-flight limits."""
    record = record_of(docs[0]) if docs else {}
    said: list[str] = []
    limits = {r.strategy: r.in_flight for r in rows if r.in_flight is not None}
    skipped = record.get("skipped", {})
    if record.get("mode") == "budget":
        n = record.get("budget")
        odd = [
            f"{r.strategy} ran {r.in_flight if r.in_flight is not None else 'an unknown number'} "
            f"({skipped.get(r.strategy, 'its mapping of the budget')})"
            for r in rows
            if r.in_flight != n
        ]
        said.append(
            f"Every strategy was allowed {n} items in flight (--budget {n})"
            + (f", except: {'; '.join(odd)}." if odd else ".")
        )
        seen = _service_peaks(docs)
        if seen:  # a limit is not a level: a starved pool may never fill it
            said.append("The service saw at most: " + ", ".join(f"{s} {v}" for s, v in seen.items()) + " at once.")
    elif record.get("mode") != "tune" and len(set(limits.values())) > 1:
        shown = ", ".join(f"{s} {v}" for s, v in limits.items())
        said.append(
            f"Strategies ran at different in-flight limits ({shown}): compare them at one level with "
            "--budget N, or each at its best with --tune."
        )
    if record.get("mode") == "tune":
        said += _tuning_notes(rows, record)
    return said


def _service_peaks(docs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Per strategy, the most requests the service had in flight at once in any measured run, when the workload
    reports it (``max_in_flight`` in its stats, as the scoring server does)."""
    from orchbench.results.document import measured_runs

    peaks: dict[str, int] = {}
    for name, runs in measured_runs(docs).items():
        given = [r.workload_stats.get("max_in_flight") for r in runs]
        values = [v for v in given if isinstance(v, int) and not isinstance(v, bool)]
        if values:
            peaks[name] = max(values)
    return peaks


def _tuning_notes(rows: Sequence[StrategyRow], record: Mapping[str, Any]) -> list[str]:
    found = tunings(record)
    said = []
    cost = sum(t.cost_s for t in found.values())
    probes = sum(len(t.probes) for t in found.values())
    said.append(
        f"Each strategy was tuned first ({probes} probe runs, {cost:.1f} s in all, at most "
        f"{record.get('tune_budget')} per strategy); not tuned: "
        + (", ".join(f"{s} ({why})" for s, why in record.get("skipped", {}).items()) or "none")
        + "."
    )
    for label, t in found.items():
        for knob in t.edges:
            low, high = t.ranges[knob]
            said.append(
                f"{label}: the best {knob}={t.chosen[knob]} lies at the end of the range searched "
                f"({low}–{high}); the best setting may lie beyond it."
            )
        if t.exhausted:
            best = "" if t.kept_defaults is not None else "; its setting is the best found"
            said.append(f"{label}: the tuning budget ran out before the search ended{best}.")
        if t.kept_defaults is not None:
            said.append(f"{label}: tuning kept the defaults: {t.kept_defaults}.")
        if t.interrupted:
            said.append(f"{label}: tuning was interrupted after {len(t.probes)} probes; nothing was compared.")
    at_defaults = {label: t.default_wall() for label, t in found.items()}
    for row in rows:  # strategies not tuned ran at their defaults anyway
        if row.strategy not in found and row.wall and not row.flagged:
            at_defaults[row.strategy] = row.wall.median
    ranked = sorted((w, s) for s, w in at_defaults.items() if w is not None)
    winner = next((r.strategy for r in rows if r.winner), None)
    if ranked and winner:
        before = ranked[0][1]
        if before != winner:
            said.append(
                f"Tuning changed the winner: at their defaults {before} was fastest "
                f"({ranked[0][0]:.3f} s, one probe each); tuned, {winner} is."
            )
        else:
            said.append(f"Tuning did not change the winner: {winner} was fastest at the defaults too.")
    return said


# --- the tuning table ----------------------------------------------------------------------------------------


def tuning_rows(docs: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """One row per tuned strategy: knob, range searched, default, chosen, walls, probes, cost, remarks."""
    rows = []
    for doc in docs[:1]:
        for label, t in tunings(record_of(doc)).items():
            best = [p.wall_s for p in t.probes if p.ok and p.options == t.chosen and p.wall_s is not None]
            remarks = [f"{k} at the edge" for k in t.edges] + (["budget ran out"] if t.exhausted else [])
            remarks += ["stopped: a setting failed entirely"] if t.stopped is not None else []
            remarks += ["defaults kept"] if t.kept_defaults is not None else []
            remarks += ["interrupted"] if t.interrupted else []
            for i, knob in enumerate(t.ranges):
                low, high = t.ranges[knob]
                rows.append(
                    [
                        label if i == 0 else "",
                        knob,
                        f"{low}–{high}",
                        str(t.default.get(knob, "—")),
                        str(t.chosen.get(knob, "—")),
                        _secs(t.default_wall()) if i == 0 else "",
                        _secs(min(best) if best else None) if i == 0 else "",
                        str(len(t.probes)) if i == 0 else "",
                        f"{t.cost_s:.1f}" if i == 0 else "",
                        ", ".join(remarks) if i == 0 else "",
                    ]
                )
    return rows


TUNING_HEADER = [
    "Strategy",
    "Knob",
    "Searched",
    "Default",
    "Chosen",
    "Wall at default [s]",
    "Best probe [s]",
    "Probes",
    "Cost [s]",
    "Remarks",
]


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
