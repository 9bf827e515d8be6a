"""Statistics for run times: robust summaries, a bootstrapped speed-up, and a rank test for significance.

Medians and quartiles rather than means: run times have a hard floor and a long right tail (a GC pause, a
noisy neighbour), so a single slow run moves the mean but hardly the median. Significance comes from the
two-sided Mann-Whitney U test, which assumes no distribution; with small samples it is exact (an exact
permutation test when there are ties), so "faster" means the ranks say so, not that the medians merely differ.

numpy and scipy are imported inside the functions that need them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from orchbench.errors import UsageError

FASTER = "faster"
SLOWER = "slower"
NO_DIFFERENCE = "no significant difference"

# Tied small samples: an exact permutation p-value up to this many arrangements of the pooled values (8 + 9
# values), a seeded random permutation test beyond it while one sample stays small.
_EXACT_PERMUTATIONS = 25_000
_RANDOM_PERMUTATIONS = 9_999


def _checked(samples: Sequence[float], what: str = "samples") -> list[float]:
    values = [float(x) for x in samples]
    if not values:
        raise ValueError(f"{what}: need at least one value")
    if not all(math.isfinite(x) for x in values):
        raise ValueError(f"{what}: values must be finite numbers")
    return values


def _quantile(ordered: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, Excel's QUARTILE.INC)."""
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """Location and spread of a sample. ``stdev`` is the sample standard deviation, None for a single value."""

    n: int
    median: float
    q1: float
    q3: float
    iqr: float
    min: float
    max: float
    mean: float
    stdev: float | None

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        """Summarise a non-empty sequence of finite numbers."""
        values = sorted(_checked(samples))
        n = len(values)
        mean = math.fsum(values) / n
        stdev = math.sqrt(math.fsum((x - mean) ** 2 for x in values) / (n - 1)) if n > 1 else None
        q1, median, q3 = (_quantile(values, p) for p in (0.25, 0.5, 0.75))
        return cls(n, median, q1, q3, q3 - q1, values[0], values[-1], mean, stdev)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(samples: Sequence[float]) -> float:
    """The median of a non-empty sample."""
    return _quantile(sorted(_checked(samples)), 0.5)


@dataclass(frozen=True)
class Speedup:
    """How many times faster the candidate is than the baseline (ratio of median walls) and its bootstrap CI."""

    ratio: float
    low: float
    high: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def speedup(
    baseline_walls: Sequence[float],
    candidate_walls: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Speedup:
    """Ratio of medians baseline/candidate (> 1: candidate faster) with a percentile bootstrap interval.

    Each sample is resampled independently with replacement; the same seed gives the same interval.
    """
    if not 0 < confidence < 1:
        raise UsageError(f"confidence must be between 0 and 1, exclusive (got {confidence!r})")
    if resamples < 1:
        raise UsageError(f"resamples must be at least 1 (got {resamples!r})")
    base = _checked(baseline_walls, "baseline walls")
    cand = _checked(candidate_walls, "candidate walls")
    if min(base) <= 0 or min(cand) <= 0:
        raise ValueError("wall times must be positive")

    import numpy as np

    b, c = np.asarray(base), np.asarray(cand)
    ratio = float(np.median(b) / np.median(c))
    rng = np.random.default_rng(seed)
    chunk = max(1, 1_000_000 // max(len(b), len(c)))
    ratios = []
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        med_b = np.median(b[rng.integers(0, len(b), size=(k, len(b)))], axis=1)
        med_c = np.median(c[rng.integers(0, len(c), size=(k, len(c)))], axis=1)
        ratios.append(med_b / med_c)
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.concatenate(ratios), [tail, 1 - tail])
    return Speedup(ratio, float(low), float(high), confidence)


@dataclass(frozen=True)
class Comparison:
    """The verdict on candidate vs baseline walls, the two-sided p-value, and how it was computed."""

    verdict: str
    p_value: float
    alpha: float
    method: str

    @property
    def significant(self) -> bool:
        return self.verdict != NO_DIFFERENCE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value a rank test can reach with samples of these sizes (no ties)."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n1 + n2, n1))


def runs_needed(alpha: float = 0.05) -> int:
    """The fewest runs per strategy (equal sizes) with which a rank test can be significant at ``alpha``."""
    n = 1
    while min_p_value(n, n) >= alpha:
        n += 1
    return n


def _u(xs: Sequence[float], ys: Sequence[float]) -> float:
    return sum((x > y) + 0.5 * (x == y) for x in xs for y in ys)


def _exact_single(cand: list[float], base: list[float]) -> tuple[float, float]:
    """U and its exact two-sided p when one sample has a single value: that value may sit at any pooled place."""
    pooled = cand + base
    observed = _u(cand, base)
    us = []
    for i in range(len(pooled)):
        rest = pooled[:i] + pooled[i + 1 :]
        single = _u([pooled[i]], rest)
        us.append(single if len(cand) == 1 else len(rest) - single)
    below = sum(u <= observed for u in us) / len(us)
    above = sum(u >= observed for u in us) / len(us)
    return observed, min(1.0, 2 * min(below, above))


def compare_samples(baseline: Sequence[float], candidate: Sequence[float], alpha: float = 0.05) -> Comparison:
    """Is the candidate faster, slower, or not significantly different? Two-sided Mann-Whitney U test.

    Small samples get an exact p-value (an exact permutation test when values tie, a seeded random one when
    there are too many arrangements to enumerate); large ones the normal approximation with tie correction.
    Samples where every value is the same are never significantly different.
    """
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, exclusive (got {alpha!r})")
    base = _checked(baseline, "baseline")
    cand = _checked(candidate, "candidate")
    pooled = base + cand
    if len(set(pooled)) == 1:
        return Comparison(NO_DIFFERENCE, 1.0, alpha, "identical")

    from scipy import stats

    n1, n2 = len(cand), len(base)
    ties = len(set(pooled)) < len(pooled)
    arrangements = math.comb(n1 + n2, n1)
    if n1 > 8 and n2 > 8:
        method: Any = "asymptotic"
    elif not ties:
        method = "exact"
    elif min(n1, n2) == 1:
        method = "exact permutation"  # scipy's permutation method needs two values per sample
    elif arrangements <= _EXACT_PERMUTATIONS:
        method = stats.PermutationMethod(n_resamples=arrangements)  # enumerates every arrangement: exact
    elif min(n1, n2) <= 8:
        method = stats.PermutationMethod(n_resamples=_RANDOM_PERMUTATIONS, rng=0)  # seeded: reproducible
    else:
        method = "asymptotic"
    if isinstance(method, str) and method == "exact permutation":
        statistic, p = _exact_single(cand, base)
    else:
        result = stats.mannwhitneyu(cand, base, alternative="two-sided", method=method)
        statistic, p = float(result.statistic), float(result.pvalue)
    if not math.isfinite(p):
        p = 1.0
    p = min(max(p, 0.0), 1.0)
    if isinstance(method, str):
        label = method
    elif method.n_resamples == arrangements:
        label = "exact permutation"
    else:
        label = f"permutation ({method.n_resamples} resamples)"
    if p >= alpha:
        return Comparison(NO_DIFFERENCE, p, alpha, label)
    # U counts the pairs where the candidate is the slower one: below half of all pairs means it tends to be faster.
    verdict = FASTER if statistic < n1 * n2 / 2 else SLOWER
    return Comparison(verdict, p, alpha, label)
