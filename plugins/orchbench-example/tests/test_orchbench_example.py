"""The example plugin's own tests: orchbench's strategy and workload contracts, and the workload against its
reference."""

from __future__ import annotations

import pytest
from orchbench_example.workload import WordLengths, measure, split_words

from orchbench.testing import StrategyContract, WorkloadContract, assert_matches_reference, run_spec


class TestChunkedThreads(StrategyContract):
    """The standard battery, on orchbench's anagram workload."""

    strategy = "chunked-threads"


class TestChunkedThreadsOnWordlen(StrategyContract):
    """The same battery on this plugin's workload, with an option passed the way ``--set threads=3`` does."""

    strategy = "chunked-threads"
    workload = "wordlen"
    case = "medium"

    @pytest.fixture
    def strategy_options(self) -> dict[str, int]:
        return {"threads": 3}


class TestSequentialOnWordlen(StrategyContract):
    """orchbench's baseline runs the plugin's workload too."""

    strategy = "sequential"
    workload = "wordlen"
    case = "medium"


class TestWordLengthsWorkload(WorkloadContract):
    """The workload battery: a reference apart from the tasks, the same output everywhere, picklable items…"""

    workload = "wordlen"
    case = "medium"


def test_tasks_and_reference_agree_by_hand() -> None:
    text = "Tea, two teas - and 42 cakes_"
    assert split_words(text) == ["Tea,", "two", "teas", "-", "and", "42", "cakes_"]
    assert [measure(w) for w in split_words(text)] == [3, 3, 4, 0, 3, 2, 5]
    workload = WordLengths.__new__(WordLengths)  # the reference needs no spec
    assert workload.reference(text) == {2: 1, 3: 3, 4: 1, 5: 1}


def test_fast_scenario_under_more_threads_than_words_matches_matches_the_reference() -> None:
    result = run_spec(
        "chunked-threads", workload="wordlen", case="medium", scenario="fast", strategy_options={"threads": 64}
    )
    assert_matches_reference(result)
    assert result.limit_s is not None and result.limit_s > 0
