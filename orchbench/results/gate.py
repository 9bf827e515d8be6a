"""The regression gate of ``orchbench compare --baseline``: fail when a strategy got slower, or stopped being right.

A strategy present in both comparisons regresses when

- its current walls are significantly slower than the baseline's (two-sided Mann-Whitney U test) *and* the ratio
  of medians current/baseline exceeds ``1 + fail_above`` — both, so neither noise nor a tiny but consistent
  slow-down fails a build; or
- every baseline run was ok (complete and correct) but some current run is not: wrong output is a regression
  whatever the speed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from orchbench.errors import UsageError
from orchbench.results.document import measured_runs
from orchbench.results.stats import SLOWER, compare_samples, median, min_p_value, runs_needed
from orchbench.types import RunResult

SLOWER_REASON = "slower"
WRONG_REASON = "wrong or incomplete runs"


@dataclass(frozen=True)
class Regression:
    """One strategy that regressed. Medians in seconds; ``ratio`` is current/baseline."""

    strategy: str
    baseline_median: float | None
    current_median: float | None
    ratio: float | None
    p_value: float | None
    reason: str = SLOWER_REASON

    def describe(self) -> str:
        """One line for the terminal or a CI log."""
        if self.reason == SLOWER_REASON:
            return (
                f"{self.strategy}: {self.ratio:.2f}× slower than the baseline (median "
                f"{self.current_median:.4g} s vs {self.baseline_median:.4g} s, p={self.p_value:.3g})"
            )
        return f"{self.strategy}: {self.reason} (the baseline's runs were all correct and complete)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_threshold(text: str | float) -> float:
    """Read a tolerated slow-down: "10%" or "0.1" (a fraction below 1) mean ten percent."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise UsageError(f"threshold {raw!r} is not a number; write e.g. 10% or 0.1") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"threshold {raw!r} must be a finite number of at least 0")
    if percent:
        return value / 100
    if isinstance(text, str) and value >= 1:
        raise UsageError(f"threshold {raw!r} is ambiguous; write {value:g}% or a fraction such as 0.1")
    return value


def _walls(runs: list[RunResult]) -> list[float]:
    return [r.wall_s for r in runs if r.timed]


def check_baseline(
    baseline: Mapping[str, Any],
    *,
    settings: Mapping[str, Any],
    interpreters: Mapping[str, Mapping[str, Any]],
    iterations: int,
    source: str,
    alpha: float = 0.05,
) -> None:
    """Before anything runs: the baseline measured the same thing (workload, case, scenario, input digest) on the
    same interpreter for the strategies both have, shares a strategy, and holds enough runs for a regression to
    be detectable at ``alpha`` with ``iterations`` new runs. ``settings`` are this comparison's (as it will save
    them); ``interpreters`` maps each strategy label to its interpreter. One UsageError line otherwise."""
    from orchbench.harness.interpreters import INTERPRETER_KEYS, differing, interpreter_of, short_label

    then = baseline["settings"]
    for key in ("workload", "case", "scenario"):
        if then.get(key) != settings.get(key):
            raise UsageError(
                f"--against {source}: the baseline was measured with {key} {then.get(key)!r}, "
                f"this comparison would run {settings.get(key)!r}"
            )
    if then.get("input_digest") and settings.get("input_digest") and then["input_digest"] != settings["input_digest"]:
        raise UsageError(
            f"--against {source}: the baseline was measured on another input (digest {then['input_digest']}, "
            f"this one is {settings['input_digest']})"
        )
    measured = measured_runs(baseline)
    common = [label for label in interpreters if label in measured]
    if not common:
        raise UsageError(
            f"--against {source}: no strategy in common with the baseline (baseline: "
            f"{', '.join(measured) or 'none'}; now: {', '.join(interpreters)})"
        )
    for label in common:
        before, now = interpreter_of(baseline, label), dict(interpreters[label])
        if differing([before, now], INTERPRETER_KEYS):
            raise UsageError(
                f"--against {source}: the baseline ran {label} on Python {short_label(before)}, this comparison "
                f"would run it on {short_label(now)}; gate against a baseline of the same interpreter"
            )
        then_runs = len(_walls(measured[label]))
        if then_runs and min_p_value(then_runs, iterations) >= alpha:
            raise UsageError(
                f"--against {source}: too few runs of {label!r} to detect a regression at α = {alpha:g} "
                f"({then_runs} in the baseline, {iterations} now; use at least {runs_needed(alpha)} of each)"
            )


def _check_same_benchmark(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    for key in ("workload", "case", "scenario"):
        now, then = current["settings"].get(key), baseline["settings"].get(key)
        if now != then:
            raise UsageError(f"the baseline was measured with {key} {then!r}, this comparison with {now!r}")


def regressions(
    current_doc: Mapping[str, Any], baseline_doc: Mapping[str, Any], fail_above: float, alpha: float = 0.05
) -> list[Regression]:
    """The strategies of ``current_doc`` that regressed against ``baseline_doc``; empty when the gate passes.

    Raises UsageError when the two documents measure different things, share no strategy, or hold too few runs
    for any slow-down to be significant (a gate that cannot fail is not a gate).
    """
    if not math.isfinite(fail_above) or fail_above < 0:
        raise UsageError(f"fail-above threshold must be at least 0 (got {fail_above!r})")
    _check_same_benchmark(current_doc, baseline_doc)
    current, baseline = measured_runs(current_doc), measured_runs(baseline_doc)
    common = [name for name in current if name in baseline]
    if not common:
        raise UsageError(
            f"no strategy in common with the baseline (baseline: {', '.join(baseline) or 'none'}; "
            f"now: {', '.join(current) or 'none'})"
        )

    found: list[Regression] = []
    for name in common:
        now, then = _walls(current[name]), _walls(baseline[name])
        now_median = median(now) if now else None
        then_median = median(then) if then else None
        ratio = now_median / then_median if now_median and then_median else None
        if all(r.ok for r in baseline[name]) and not all(r.ok for r in current[name]):
            found.append(Regression(name, then_median, now_median, ratio, None, WRONG_REASON))
            continue
        if not now or not then:
            continue
        if min_p_value(len(then), len(now)) >= alpha:
            raise UsageError(
                f"too few runs of {name!r} to detect a regression at α = {alpha:g} ({len(then)} in "
                f"the baseline, {len(now)} now; use at least {runs_needed(alpha)} iterations)"
            )
        verdict = compare_samples(then, now, alpha)
        if verdict.verdict == SLOWER and ratio is not None and ratio > 1 + fail_above:
            found.append(Regression(name, then_median, now_median, ratio, verdict.p_value))
    return found
