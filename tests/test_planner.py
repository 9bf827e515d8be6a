from __future__ import annotations

from collections import Counter

import pytest

from orchbench.errors import UsageError
from orchbench.harness.planner import PlannedRun, plan


def test_warmups_come_first_then_rotated_rounds():
    runs = plan(["a", "b", "c"], iterations=3, warmup=1)
    assert [(r.round, r.strategy, r.warmup) for r in runs] == [
        (1, "a", True),
        (1, "b", True),
        (1, "c", True),
        (1, "a", False),
        (1, "b", False),
        (1, "c", False),
        (2, "b", False),
        (2, "c", False),
        (2, "a", False),
        (3, "c", False),
        (3, "a", False),
        (3, "b", False),
    ]


def test_each_round_runs_every_strategy_once():
    strategies = ["seq", "threads", "asyncio", "processes"]
    runs = plan(strategies, iterations=7, warmup=2)
    for warm, count in ((True, 2), (False, 7)):
        for number in range(1, count + 1):
            names = [r.strategy for r in runs if r.warmup is warm and r.round == number]
            assert sorted(names) == sorted(strategies)
    assert Counter(r.strategy for r in runs if not r.warmup) == {s: 7 for s in strategies}
    assert Counter(r.strategy for r in runs if r.warmup) == {s: 2 for s in strategies}


def test_rotation_balances_positions():
    strategies = ["a", "b", "c"]
    runs = [r for r in plan(strategies, iterations=6, warmup=0)]
    positions = Counter((r.strategy, i % 3) for i, r in enumerate(runs))
    assert set(positions.values()) == {2}  # every strategy twice in every position over 6 rounds


def test_two_strategies_alternate_abba():
    runs = plan(["a", "b"], iterations=4, warmup=0)
    assert "".join(r.strategy for r in runs) == "abbaabba"


def test_no_strategy_runs_twice_in_a_row_with_three_or_more():
    runs = plan(["a", "b", "c", "d"], iterations=9, warmup=3)
    assert all(x.strategy != y.strategy for x, y in zip(runs, runs[1:], strict=False))


def test_single_strategy_and_no_warmup():
    assert plan(["only"], iterations=2, warmup=0) == [PlannedRun(1, "only", False), PlannedRun(2, "only", False)]


def test_to_dict_is_plain_data():
    assert PlannedRun(3, "x", True).to_dict() == {"round": 3, "strategy": "x", "warmup": True}


@pytest.mark.parametrize(
    ("strategies", "iterations", "warmup", "fragment"),
    [
        (["a"], 0, 0, "iterations"),
        (["a"], -1, 0, "iterations"),
        (["a"], 2.5, 0, "iterations"),
        (["a"], True, 0, "iterations"),
        (["a"], 1, -1, "warmup"),
        ([], 1, 0, "no strategy"),
        (["a", "a"], 1, 0, "twice"),
    ],
)
def test_bad_input_is_a_usage_error(strategies, iterations, warmup, fragment):
    with pytest.raises(UsageError, match=fragment):
        plan(strategies, iterations, warmup)
