"""orchbench.testing: the helpers plugin authors use, and the strategy contract applied to ``sequential``."""

from __future__ import annotations

import pytest

from orchbench.testing import StrategyContract, assert_matches_reference, run_spec, seed_passing_prepare
from orchbench.types import RunSpec


class TestSequentialContract(StrategyContract):
    strategy = "sequential"


def test_run_spec_runs_in_process_and_matches_the_reference() -> None:
    result = run_spec("sequential", case="large", scenario="fast")
    assert_matches_reference(result)
    assert result.spec["case"] == "large" and result.items > 100


def test_assert_matches_reference_names_the_failures() -> None:
    spec = RunSpec(strategy="sequential", case="medium", scenario="none", fault_rate=0.5, retry="none")
    result = run_spec(
        "sequential", case="medium", scenario="none", fault_rate=0.5, retry="none", seed=seed_passing_prepare(spec)
    )
    with pytest.raises(AssertionError, match=r"items failed, e\.g\.:\n +'\w+': InjectedFault"):
        assert_matches_reference(result)


def test_seed_passing_prepare_lets_both_stages_pass_first_time() -> None:
    spec = RunSpec(strategy="sequential", case="small", scenario="none", fault_rate=0.7, retry="none")
    seed = seed_passing_prepare(spec)
    result = run_spec("sequential", case="small", scenario="none", fault_rate=0.7, retry="none", seed=seed)
    assert result.error is None and result.items == 1
    if seed > 0:  # the seeds before it fail a stage: the search is not a no-op
        earlier = run_spec("sequential", case="small", scenario="none", fault_rate=0.7, retry="none", seed=seed - 1)
        assert earlier.error is not None and earlier.error.startswith("prepare failed")
