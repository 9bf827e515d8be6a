from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchbench.errors import UsageError
from orchbench.results.stats import (
    FASTER,
    NO_DIFFERENCE,
    SLOWER,
    Summary,
    compare_samples,
    median,
    min_p_value,
    runs_needed,
    speedup,
)

# --- Summary -------------------------------------------------------------------------------------------------


def test_summary_of_odd_sample_by_hand():
    s = Summary.of([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (s.n, s.median, s.q1, s.q3, s.iqr, s.min, s.max, s.mean) == (5, 3.0, 2.0, 4.0, 2.0, 1.0, 5.0, 3.0)
    assert s.stdev == pytest.approx(math.sqrt(2.5))


def test_summary_of_even_sample_interpolates():
    s = Summary.of([4.0, 1.0, 3.0, 2.0])
    # positions 0.75, 1.5, 2.25 in the sorted sample 1 2 3 4
    assert (s.q1, s.median, s.q3, s.iqr) == (1.75, 2.5, 3.25, 1.5)


def test_summary_of_one_value_has_no_stdev():
    s = Summary.of([0.7])
    assert (s.median, s.q1, s.q3, s.iqr, s.min, s.max, s.mean, s.stdev) == (0.7, 0.7, 0.7, 0.0, 0.7, 0.7, 0.7, None)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_summary_rejects_empty_and_non_finite(bad):
    with pytest.raises(ValueError):
        Summary.of(bad)


@settings(deadline=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=2, max_size=40))
def test_summary_agrees_with_numpy_and_statistics(values):
    s = Summary.of(values)
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    assert s.q1 == pytest.approx(q1) and s.median == pytest.approx(q2) and s.q3 == pytest.approx(q3)
    assert s.median == pytest.approx(statistics.median(values))
    assert s.stdev == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-9)
    assert s.min <= s.q1 <= s.median <= s.q3 <= s.max


def test_median_helper():
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5


# --- speed-up ------------------------------------------------------------------------------------------------


def test_speedup_is_ratio_of_medians():
    result = speedup([4.0, 2.0, 3.0], [1.0, 2.0, 1.5])
    assert result.ratio == pytest.approx(2.0)
    assert result.low <= result.high
    assert result.confidence == 0.95


def test_speedup_ci_contains_true_ratio_for_crafted_samples():
    rng = np.random.default_rng(42)
    candidate = list(1.0 * np.exp(rng.normal(0, 0.05, 25)))  # true median 1.0
    baseline = list(3.0 * np.exp(rng.normal(0, 0.05, 25)))  # true median 3.0
    result = speedup(baseline, candidate)
    assert result.low < 3.0 < result.high
    assert result.high - result.low < 0.5  # tight: the samples are far apart and not noisy
    assert 1.0 < result.low  # the candidate is clearly faster


def test_speedup_is_deterministic_with_a_seed():
    base, cand = [2.0, 2.2, 1.9, 2.4, 2.1], [1.0, 1.3, 0.9, 1.1, 1.2]
    assert speedup(base, cand, seed=7) == speedup(base, cand, seed=7)
    assert speedup(base, cand, resamples=500) == speedup(base, cand, resamples=500)


def test_speedup_of_identical_samples_is_one_with_a_point_interval():
    result = speedup([1.5, 1.5, 1.5], [1.5, 1.5, 1.5])
    assert (result.ratio, result.low, result.high) == (1.0, 1.0, 1.0)


def test_speedup_rejects_bad_input():
    with pytest.raises(ValueError):
        speedup([], [1.0])
    with pytest.raises(ValueError):
        speedup([1.0], [0.0])
    with pytest.raises(UsageError):
        speedup([1.0], [1.0], confidence=1.0)
    with pytest.raises(UsageError):
        speedup([1.0], [1.0], resamples=0)


# --- significance --------------------------------------------------------------------------------------------


def test_clearly_faster_sample_says_faster_with_exact_p():
    result = compare_samples([10.0, 11.0, 12.0, 13.0, 14.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert result.verdict == FASTER and result.significant
    assert result.p_value == pytest.approx(2 / math.comb(10, 5))  # the two most extreme of 252 arrangements


def test_clearly_slower_sample_says_slower():
    result = compare_samples([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 11.0, 12.0, 13.0, 14.0])
    assert result.verdict == SLOWER


def test_identical_samples_are_no_significant_difference():
    result = compare_samples([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    assert (result.verdict, result.p_value) == (NO_DIFFERENCE, 1.0)
    same = compare_samples([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    assert same.verdict == NO_DIFFERENCE and same.p_value == pytest.approx(1.0)


def _brute_force_p(baseline: list[float], candidate: list[float]) -> float:
    """Two-sided exact permutation p-value of U (twice the smaller tail), enumerating every split of the values."""

    def u(xs, ys):
        return sum((x > y) + 0.5 * (x == y) for x in xs for y in ys)

    pooled = baseline + candidate
    n = len(candidate)
    observed = u(candidate, baseline)
    below = above = total = 0
    for picked in itertools.combinations(range(len(pooled)), n):
        chosen = set(picked)
        xs = [pooled[i] for i in picked]
        ys = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        below += u(xs, ys) <= observed
        above += u(xs, ys) >= observed
    return min(1.0, 2 * min(below, above) / total)


@pytest.mark.parametrize(
    ("baseline", "candidate"),
    [
        ([5.0, 7.0, 8.0, 9.0, 10.0], [1.0, 2.0, 2.0, 4.0, 5.0]),
        ([3.0, 3.0, 4.0, 4.0, 5.0, 6.0], [1.0, 1.0, 2.0, 3.0]),
        ([2.0, 2.0, 2.0, 3.0], [2.0, 2.0, 3.0, 3.0]),
        ([1.0, 2.0, 2.0, 3.0, 4.0], [2.0]),
        ([2.0], [1.0, 1.0, 2.0]),
    ],
)
def test_ties_get_the_exact_permutation_p_value(baseline, candidate):
    result = compare_samples(baseline, candidate)
    assert result.method == "exact permutation"
    assert result.p_value == pytest.approx(_brute_force_p(baseline, candidate))


def test_ties_in_a_clearly_faster_sample_still_say_faster():
    result = compare_samples([5.0, 7.0, 8.0, 9.0, 10.0], [1.0, 2.0, 2.0, 4.0, 5.0])
    assert result.verdict == FASTER and result.p_value < 0.05


def test_large_samples_with_ties_use_the_normal_approximation():
    base = [2.0, 2.1, 2.2] * 7
    cand = [1.0, 1.1, 1.1] * 7
    result = compare_samples(base, cand)
    assert result.method == "asymptotic" and result.verdict == FASTER


def test_a_small_sample_against_a_large_tied_one_uses_a_seeded_permutation_test():
    base = [2.0, 2.1, 2.2, 2.2] * 6
    cand = [1.0, 1.1, 1.1, 1.2, 1.0]  # 5 among 29 values: 118,755 arrangements, too many to enumerate
    first, second = compare_samples(base, cand), compare_samples(base, cand)
    assert first.method.startswith("permutation (") and first == second
    assert first.verdict == FASTER


def test_two_runs_each_can_never_be_significant():
    assert min_p_value(2, 2) == pytest.approx(1 / 3)
    assert compare_samples([10.0, 11.0], [1.0, 2.0]).verdict == NO_DIFFERENCE
    assert min_p_value(5, 5) < 0.05 < min_p_value(3, 3)
    assert runs_needed(0.05) == 4 and runs_needed(0.01) == 5  # 2/70 < 0.05; 2/252 < 0.01 < 2/70


def test_compare_rejects_bad_alpha_and_empty_samples():
    with pytest.raises(UsageError):
        compare_samples([1.0], [1.0], alpha=0)
    with pytest.raises(ValueError):
        compare_samples([], [1.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0]), min_size=1, max_size=9),
    st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0]), min_size=1, max_size=9),
)
def test_heavily_tied_samples_never_crash_or_give_nan(baseline, candidate):
    result = compare_samples(baseline, candidate)
    assert result.verdict in {FASTER, SLOWER, NO_DIFFERENCE}
    assert 0.0 <= result.p_value <= 1.0
    assert (result.p_value < 0.05) == result.significant
