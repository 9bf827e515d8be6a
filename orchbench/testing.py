"""Test helpers for plugin authors (and orchbench's own tests); needs pytest.

- :func:`run_spec` runs one spec in this process and returns its :class:`~orchbench.RunResult`;
- :func:`assert_matches_reference` fails with the run's failures listed unless it is complete and correct;
- :func:`map_items` hands a strategy a list of items directly and returns its outcomes;
- :class:`StrategyContract` is a battery of tests: subclass it in your test module with your strategy's name.

Example::

    from orchbench.testing import StrategyContract, assert_matches_reference, run_spec

    class TestMyStrategy(StrategyContract):
        strategy = "my-strategy"

    def test_wordlen_under_my_strategy():
        assert_matches_reference(run_spec("my-strategy", workload="wordlen", scenario="fast"))
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from orchbench.harness.cache import ResourceCache
from orchbench.harness.faults import Fault, FaultModel, apply_overrides
from orchbench.harness.runner import execute
from orchbench.harness.task import Task
from orchbench.plugins import get_registry
from orchbench.types import Outcome, RunResult, RunSpec

__all__ = ["StrategyContract", "assert_matches_reference", "map_items", "run_spec", "seed_passing_prepare"]


def run_spec(strategy: str, workload: str = "anagrams", **spec_fields: Any) -> RunResult:
    """Run ``strategy`` on ``workload`` in this process (no child process, no memory sampling).

    ``spec_fields`` are :class:`~orchbench.RunSpec` fields, e.g. ``case="medium"``, ``scenario="none"``,
    ``fault_rate=0.3``, ``retry="none"``, ``strategy_options={"threads": 4}``.
    """
    return execute(RunSpec(strategy=strategy, workload=workload, **spec_fields))


def assert_matches_reference(result: RunResult) -> None:
    """The run finished, every item has a value and the output equals the workload's reference."""
    lines = [f"run of {result.spec.get('strategy')!r} on {result.spec.get('workload')!r} is not right:"]
    if result.error:
        lines.append(f"  error: {result.error}")
    if result.failed:
        lines.append(f"  {result.failed} of {result.items} items failed, e.g.:")
        lines += [f"    {f['item']}: {f['error']}" for f in result.failures[:5]]
    if result.complete and result.correct is not True:
        lines.append(f"  output {result.output_digest} differs from the reference {result.reference_digest}")
    assert result.ok and result.succeeded == result.items > 0, "\n".join(lines)


def _fault_model(spec: RunSpec) -> tuple[FaultModel, str]:
    workload = get_registry().workload(spec.workload)(spec, ResourceCache())
    profiles = apply_overrides(workload.task_profiles(spec.scenario or workload.default_scenario), spec)
    return FaultModel(spec.seed, profiles), workload.map_task


def seed_passing_prepare(spec: RunSpec, limit: int = 10_000) -> int:
    """The first seed under which every prepare stage (each profiled task but the map task) succeeds at its
    first attempt: so a test can make items fail without a retry while still getting items to run."""
    for seed in range(limit):
        faults, map_task = _fault_model(spec.replace(seed=seed))
        if all(faults.decide(t, 0, 1) is Fault.NONE for t in faults.profiles if t != map_task):
            return seed
    raise AssertionError(f"no seed below {limit} lets the prepare stages of {spec.workload!r} pass")


def map_items(strategy: str, workload: str = "anagrams", strategy_options: dict[str, Any] | None = None,
              **spec_fields: Any) -> tuple[list[Any], list[Outcome]]:
    """Prepare the workload's items, hand them to the strategy's ``map`` (between ``start`` and ``stop``) and
    return (items, outcomes)."""
    spec = RunSpec(strategy=strategy, workload=workload, strategy_options=dict(strategy_options or {}),
                   **spec_fields)
    registry = get_registry()
    work = registry.workload(workload)(spec, ResourceCache())
    task = Task.build(spec, workload=work)
    items = work.prepare(work.load_input(), task.stage)
    runner = registry.strategy(strategy)(**spec.strategy_options)
    try:
        runner.start(spec)
        outcomes = runner.map(task, items)
    finally:
        runner.stop()
    return items, outcomes


class StrategyContract:
    """What every strategy must do, as tests. Subclass it as ``TestSomething`` and set ``strategy``.

    Override the ``strategy_options`` fixture to pass options (it may depend on other fixtures), and set
    ``crashes = True`` when the strategy runs items in worker processes that it must survive losing.
    """

    strategy: ClassVar[str] = ""
    workload: ClassVar[str] = "anagrams"
    case: ClassVar[str | None] = "medium"
    crashes: ClassVar[bool] = False

    @pytest.fixture
    def strategy_options(self) -> dict[str, Any]:
        return {}

    def run(self, strategy_options: dict[str, Any], strategy: str | None = None, **fields: Any) -> RunResult:
        return run_spec(strategy or self.strategy, self.workload, case=self.case,
                        strategy_options=dict(strategy_options) if strategy is None else {}, **fields)

    def test_correct_on_clean_input(self, strategy_options: dict[str, Any]) -> None:
        result = self.run(strategy_options, scenario="none")
        assert_matches_reference(result)
        assert result.retries == 0

    def test_correct_under_faults_with_retries(self, strategy_options: dict[str, Any]) -> None:
        fields = {"scenario": "none", "fault_rate": 0.3, "retry": "fixed",
                  "retry_options": {"max_attempts": 40, "delay": 0.0}}
        result = self.run(strategy_options, **fields)
        assert_matches_reference(result)
        assert result.retries > 0, "the faults never fired: nothing was tested"
        # Faults are a pure function of (seed, task, item, attempt): every strategy meets the same ones.
        assert result.attempts == self.run({}, strategy="sequential", **fields).attempts

    def test_explicit_failures_without_retries(self, strategy_options: dict[str, Any]) -> None:
        base = RunSpec(strategy=self.strategy, workload=self.workload, case=self.case, scenario="none",
                       fault_rate=0.6, retry="none")
        seed = seed_passing_prepare(base)
        result = self.run(strategy_options, scenario="none", fault_rate=0.6, retry="none", seed=seed)
        assert result.error is None and not result.complete and result.correct is False
        assert result.succeeded + result.failed == result.items > 0
        faults, map_task = _fault_model(base.replace(seed=seed))
        doomed = sum(faults.decide(map_task, i, 1) is not Fault.NONE for i in range(result.unique_items))
        assert doomed > 0 and result.give_ups == doomed
        assert result.failures and all(f["error"] and f["attempts"] == 1 for f in result.failures)

    def test_one_outcome_per_item_in_order(self, strategy_options: dict[str, Any]) -> None:
        items, outcomes = map_items(self.strategy, self.workload, strategy_options, case=self.case, scenario="none",
                                    memo=False)
        assert [o.index for o in outcomes] == list(range(len(items)))
        work = get_registry().workload(self.workload)(RunSpec(strategy=self.strategy, workload=self.workload,
                                                              case=self.case), ResourceCache())
        assert [o.value for o in outcomes] == [work.map_item(item) for item in items]
        assert all(o.ok and o.attempts == 1 for o in outcomes)

    def test_survives_worker_crashes(self, strategy_options: dict[str, Any]) -> None:
        if not self.crashes:
            pytest.skip("this strategy runs no worker processes")
        result = self.run(strategy_options, scenario="none", crash_rate=0.1, retry="fixed",
                          retry_options={"max_attempts": 5, "delay": 0.0})
        assert_matches_reference(result)
