"""The benchmark scripts' own arithmetic (their runs are too long for the test suite)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def anagram_limit(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("anagram_limit")
    yield module
    sys.modules.pop("anagram_limit", None)


def test_anagram_limit_compares_only_the_seeds_sequential_ran(anagram_limit):
    """Full mode runs sequential on 5 seeds and the others on 20: the per-seed table pairs the first 5."""
    sequential = [{"wall_s": 30.0 + seed, "limit_s": 2.0} for seed in range(5)]
    best = [{"wall_s": 2.5, "limit_s": 2.0 + seed / 10} for seed in range(20)]
    rows = anagram_limit.seed_ceilings(sequential, best)
    assert [r["seed"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[4]["speedup"] == pytest.approx(34.0 / 2.5)
    assert rows[4]["ceiling"] == pytest.approx(34.0 / 2.4)
