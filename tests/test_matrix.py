"""The fault matrix (tests/reliability_matrix.py): every cell either equals the reference or ends with an exact,
explicit account of what failed; nothing is lost, nothing counted twice, no run hangs.

The default run checks one cell per (fault, workload), in this process, at the small sizes; the slow version
runs every cell through the real CLI at the long sizes with several seeds (``pytest -m slow``).
"""

from __future__ import annotations

import pytest

from tests import reliability_matrix as matrix
from tests.helpers import share_dictionary_index


@pytest.fixture(autouse=True)
def _shared_index(monkeypatch):
    share_dictionary_index(monkeypatch)


@pytest.mark.parametrize("cell", matrix.ci_cells(), ids=lambda c: c.id)
def test_cell(cell: matrix.Cell) -> None:
    record = matrix.run_cell(cell, "ci", matrix.SEEDS["ci"][0], cli=False)
    assert record["lost"] == 0


def test_the_suite_meets_every_fault_here_or_elsewhere_and_every_built_in_strategy() -> None:
    picked = matrix.ci_cells()
    here = {c.fault.name for c in picked}
    assert here | set(matrix.COVERED_ELSEWHERE) == {f.name for f in matrix.FAULTS}
    assert {c.strategy for c in picked} == set(matrix.STRATEGIES[:-1])
    assert {c.workload for c in picked} == set(matrix.WORKLOADS)


def test_predictions_expect_some_failures_and_some_successes() -> None:
    """The exact cells are not vacuous: at their rates, some items fail for good and most do not."""
    cell = next(c for c in matrix.cells() if c.fault.name == "exceptions 0.5" and c.workload == "scoring")
    p = matrix.predict(matrix.spec_for(cell, "ci", 0))
    assert 0 < len(p.failing) < len(p.unique)
    cell = next(c for c in matrix.cells() if c.fault.name == "dropped connections")
    assert matrix.predict(matrix.spec_for(cell, "long", 0)).failing


def _all_cells() -> list:
    return [pytest.param(c, marks=[pytest.mark.ray] if c.strategy == "ray" else [], id=c.id) for c in matrix.cells()]


@pytest.mark.slow
@pytest.mark.parametrize("cell", _all_cells())
def test_cell_long(cell: matrix.Cell, request: pytest.FixtureRequest) -> None:
    address = request.getfixturevalue("ray_cluster") if cell.strategy == "ray" else None
    seeds = matrix.SEEDS["long"] if cell.fault.expect == "exact" else matrix.SEEDS["long"][:1]
    for seed in seeds:
        record = matrix.run_cell(cell, "long", seed, cli=True, ray_address=address)
        assert record["lost"] == 0


@pytest.mark.parametrize("name", ["asyncio"])
def test_a_slow_first_load_is_not_taken_for_a_hung_attempt(monkeypatch, name) -> None:
    """Found by the matrix: the dictionary, loaded inside the first timed attempt, made every attempt then in
    flight on the event loop time out. Resources now load before the first attempt's clock starts."""
    import time

    import orchbench.workloads.anagrams as anagrams
    from orchbench.harness.runner import execute
    from orchbench.types import RunSpec

    fast_loader = anagrams._index_loader

    def slow_loader():  # far longer than the attempt timeout below, which leaves a loaded loop's items room
        time.sleep(3.0)
        return fast_loader()

    monkeypatch.setattr(anagrams, "_index_loader", slow_loader)
    result = execute(
        RunSpec(
            name,
            case="medium",
            scenario="fast",
            fault_rate=0.0,  # latency: attempts interleave
            retry_options={"max_attempts": 1, "timeout": 1.5},
        )
    )
    assert result.ok, result.failures


def test_the_check_refuses_a_lost_item_a_wrong_account_and_a_silent_wrong_total() -> None:
    cell = next(
        c
        for c in matrix.cells()
        if c.fault.name == "exceptions 0.5" and c.workload == "scoring" and c.strategy == "threads"
    )
    spec = matrix.spec_for(cell, "ci", 1)
    result = matrix.run_here(spec)
    assert matrix.check(cell, spec, result) == "explicit"
    one = result["failures"][0]
    doctored = {
        "an item lost": {**result, "succeeded": result["succeeded"] - 1},
        "a failure not listed": {**result, "failures": result["failures"][1:]},
        "the wrong item failed": {**result, "failures": [{**one, "item": "'something else'"}, *result["failures"][1:]]},
        "a failure without its error": {**result, "failures": [{**one, "error": ""}, *result["failures"][1:]]},
        "a wrong total presented as complete": {**result, "complete": True, "correct": False},
        "one failure fewer than predicted": {
            **result,
            "give_ups": result["give_ups"] - 1,
            "failures": result["failures"][1:],
            "failed": result["failed"] - one["positions"],
            "succeeded": result["succeeded"] + one["positions"],
        },
    }
    for what, bad in doctored.items():
        with pytest.raises(AssertionError):
            matrix.check(cell, spec, bad)
            pytest.fail(f"the check accepted {what}")
