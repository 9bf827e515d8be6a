from __future__ import annotations

import pytest

from orchbench.errors import UsageError
from orchbench.harness.planner import plan
from orchbench.results.document import make_document
from orchbench.results.gate import WRONG_REASON, Regression, parse_threshold, regressions
from orchbench.types import RunResult, RunSpec


def _document(walls: dict[str, list[float]], case: str = "small", wrong: set[str] = frozenset()) -> dict:
    strategies = list(walls)
    order = plan(strategies, iterations=len(walls[strategies[0]]), warmup=1)
    pairs = []
    for slot in order:
        wall = 50.0 if slot.warmup else walls[slot.strategy][slot.round - 1]
        bad = slot.strategy in wrong and slot.round == 1 and not slot.warmup
        spec = RunSpec(strategy=slot.strategy, case=case, scenario="fast").to_dict()
        result = RunResult(spec=spec, items=5, succeeded=5, complete=True, correct=not bad, wall_s=wall)
        pairs.append((slot, result))
    settings = {"workload": "anagrams", "case": case, "scenario": "fast", "baseline": strategies[0]}
    return make_document(settings, order, pairs, env={"cpu_model": "Test CPU", "cpu_count": 2})


BASE = {"threads": [1.00, 1.02, 0.98, 1.01, 0.99], "asyncio": [2.00, 2.02, 1.98, 2.01, 1.99]}


@pytest.mark.parametrize(
    ("text", "value"),
    [("10%", 0.1), (" 2.5% ", 0.025), ("0.1", 0.1), ("0", 0.0), ("150%", 1.5), (0.2, 0.2), (1.5, 1.5)],
)
def test_parse_threshold(text, value):
    assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "%", "ten", "-5%", "-0.1", "nan", "inf%", "10", "1"])
def test_parse_threshold_rejects_bad_or_ambiguous_input(text):
    with pytest.raises(UsageError):
        parse_threshold(text)


def test_gate_passes_when_nothing_changed():
    assert regressions(_document(BASE), _document(BASE), 0.1) == []


def test_gate_fails_on_a_clear_slowdown():
    current = dict(BASE, threads=[1.50, 1.52, 1.48, 1.51, 1.49])
    found = regressions(_document(current), _document(BASE), 0.1)
    assert len(found) == 1
    regression = found[0]
    assert isinstance(regression, Regression) and regression.strategy == "threads"
    assert (regression.baseline_median, regression.current_median) == (1.00, 1.50)
    assert regression.ratio == pytest.approx(1.5)
    assert regression.p_value == pytest.approx(2 / 252)
    assert "threads: 1.50× slower" in regression.describe()


def test_a_significant_slowdown_below_the_threshold_passes():
    current = dict(BASE, threads=[1.05, 1.07, 1.03, 1.06, 1.04])  # consistently 5 % slower
    assert regressions(_document(current), _document(BASE), 0.1) == []
    assert [r.strategy for r in regressions(_document(current), _document(BASE), 0.02)] == ["threads"]


def test_a_large_but_noisy_change_is_not_significant_and_passes():
    current = dict(BASE, threads=[0.5, 3.0, 0.6, 2.9, 1.0])  # median the same, spread huge
    assert regressions(_document(current), _document(BASE), 0.1) == []


def test_getting_faster_is_never_a_regression():
    current = dict(BASE, asyncio=[1.0, 1.01, 0.99, 1.02, 0.98])
    assert regressions(_document(current), _document(BASE), 0.0) == []


def test_wrong_results_are_a_regression_whatever_the_speed():
    found = regressions(_document(BASE, wrong={"asyncio"}), _document(BASE), 0.1)
    assert [(r.strategy, r.reason) for r in found] == [("asyncio", WRONG_REASON)]
    assert regressions(_document(BASE, wrong={"asyncio"}), _document(BASE, wrong={"asyncio"}), 0.1) == []


def test_only_strategies_in_both_are_compared():
    current = {"threads": BASE["threads"], "processes": [9.0, 9.1, 9.2, 9.3, 9.4]}
    assert regressions(_document(current), _document(BASE), 0.1) == []
    with pytest.raises(UsageError, match="no strategy in common"):
        regressions(_document({"processes": [1.0] * 5}), _document(BASE), 0.1)


def test_different_benchmarks_cannot_be_compared():
    with pytest.raises(UsageError, match="case"):
        regressions(_document(BASE, case="large"), _document(BASE), 0.1)


def test_too_few_runs_to_ever_fail_is_said_not_passed_silently():
    short = {"threads": [1.0, 1.1, 1.2]}
    with pytest.raises(UsageError, match="at least 4 iterations"):
        regressions(_document({"threads": [5.0, 5.1, 5.2]}), _document(short), 0.1)


def test_bad_threshold_value():
    with pytest.raises(UsageError):
        regressions(_document(BASE), _document(BASE), -0.1)
