"""Test helpers for plugin authors (and orchbench's own tests); needs pytest.

- :func:`run_spec` runs one spec in this process and returns its :class:`~orchbench.RunResult`;
- :func:`assert_matches_reference` fails with the run's failures listed unless it is complete and correct;
- :func:`map_items` hands a strategy a list of items directly and returns its outcomes;
- :class:`StrategyContract` is a battery of tests: subclass it in your test module with your strategy's name;
- :class:`WorkloadContract` is the battery for a workload: subclass it with your workload's name.

Example::

    from orchbench.testing import StrategyContract, assert_matches_reference, run_spec

    class TestMyStrategy(StrategyContract):
        strategy = "my-strategy"

    class TestMyWorkload(WorkloadContract):
        workload = "my-workload"
        workload_options = {"latency": 0}   # as --set would give them

    def test_wordlen_under_my_strategy():
        assert_matches_reference(run_spec("my-strategy", workload="wordlen", scenario="fast"))
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from orchbench.api import Workload
from orchbench.errors import UsageError
from orchbench.harness.faults import Fault, FaultModel, apply_overrides
from orchbench.harness.plugins import get_registry
from orchbench.harness.runner import execute
from orchbench.harness.task import Task
from orchbench.harness.verify import canonical
from orchbench.runtime.cache import ResourceCache
from orchbench.types import DEFAULT_WORKLOAD, Outcome, RunResult, RunSpec

__all__ = [
    "StrategyContract",
    "WorkloadContract",
    "assert_matches_reference",
    "map_items",
    "run_spec",
    "seed_passing_prepare",
]


def run_spec(strategy: str, workload: str = DEFAULT_WORKLOAD, **spec_fields: Any) -> RunResult:
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
    if result.complete and result.correct is None:
        lines.append("  the workload has no reference: nothing was checked")
    if result.complete and result.correct is False:
        lines.append(f"  output {result.output_digest} differs from the reference {result.reference_digest}")
    assert result.ok and result.correct is True and result.succeeded == result.items > 0, "\n".join(lines)


def _fault_model(spec: RunSpec) -> tuple[FaultModel, str]:
    workload = get_registry().workload(spec.workload)(spec, ResourceCache())
    profiles = apply_overrides(
        workload.task_profiles(spec.scenario or workload.default_scenario), spec, workload.map_task
    )
    return FaultModel(spec.seed, profiles), workload.map_task


def seed_passing_prepare(spec: RunSpec, limit: int = 10_000) -> int:
    """The first seed under which every prepare stage (each profiled task but the map task) succeeds at its
    first attempt: so a test can make items fail without a retry while still getting items to run."""
    for seed in range(limit):
        faults, map_task = _fault_model(spec.replace(seed=seed))
        if all(faults.decide(t, 0, 1) is Fault.NONE for t in faults.profiles if t != map_task):
            return seed
    raise AssertionError(f"no seed below {limit} lets the prepare stages of {spec.workload!r} pass")


@contextlib.contextmanager
def started_workload(spec: RunSpec) -> Iterator[tuple[Workload, RunSpec]]:
    """The spec's workload, built here and started (e.g. its server) for the block, then stopped; with the spec
    that carries what ``start()`` returned, to build tasks from (as the runner does)."""
    work = get_registry(spec.plugins).workload(spec.workload)(spec, ResourceCache())
    try:
        yield work, spec.replace(started=work.start())
    finally:
        work.stop()


def map_items(
    strategy: str, workload: str = DEFAULT_WORKLOAD, strategy_options: dict[str, Any] | None = None, **spec_fields: Any
) -> tuple[list[Any], list[Outcome]]:
    """Prepare the workload's items, hand them to the strategy's ``map`` (between ``start`` and ``stop``) and
    return (items, outcomes)."""
    spec = RunSpec(strategy=strategy, workload=workload, strategy_options=dict(strategy_options or {}), **spec_fields)
    with started_workload(spec) as (work, started):
        task = Task.build(started, workload=work)
        items = work.prepare(work.load_input(), task.stage)
        runner = get_registry(spec.plugins).strategy(strategy)(**spec.strategy_options)
        try:
            runner.start(started)
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
    workload: ClassVar[str] = DEFAULT_WORKLOAD
    case: ClassVar[str | None] = "medium"
    workload_options: ClassVar[dict[str, Any]] = {}  # e.g. {"latency": 0}: what --set would give the workload
    crashes: ClassVar[bool] = False

    @pytest.fixture
    def strategy_options(self) -> dict[str, Any]:
        return {}

    def run(self, strategy_options: dict[str, Any], strategy: str | None = None, **fields: Any) -> RunResult:
        return run_spec(
            strategy or self.strategy,
            self.workload,
            case=self.case,
            workload_options=dict(self.workload_options),
            strategy_options=dict(strategy_options) if strategy is None else {},
            **fields,
        )

    def test_correct_on_clean_input(self, strategy_options: dict[str, Any]) -> None:
        result = self.run(strategy_options, scenario="none")
        assert_matches_reference(result)
        assert result.retries == 0

    def test_correct_under_faults_with_retries(self, strategy_options: dict[str, Any]) -> None:
        fields: dict[str, Any] = {
            "scenario": "none",
            "fault_rate": 0.3,
            "retry": "fixed",
            "retry_options": {"max_attempts": 40, "delay": 0.0},
        }
        result = self.run(strategy_options, **fields)
        assert_matches_reference(result)
        assert result.retries > 0, "the faults never fired: nothing was tested"
        # Faults are a pure function of (seed, task, item, attempt): every strategy meets the same ones.
        assert result.attempts == self.run({}, strategy="sequential", **fields).attempts

    def test_explicit_failures_without_retries(self, strategy_options: dict[str, Any]) -> None:
        base = RunSpec(
            strategy=self.strategy,
            workload=self.workload,
            case=self.case,
            scenario="none",
            fault_rate=0.6,
            retry="none",
            workload_options=dict(self.workload_options),
        )
        seed = seed_passing_prepare(base)
        result = self.run(strategy_options, scenario="none", fault_rate=0.6, retry="none", seed=seed)
        assert result.error is None and not result.complete and result.correct is False
        assert result.succeeded + result.failed == result.items > 0
        faults, map_task = _fault_model(base.replace(seed=seed))
        doomed = sum(faults.decide(map_task, i, 1) is not Fault.NONE for i in range(result.unique_items))
        assert doomed > 0 and result.give_ups == doomed
        assert result.failures and all(f["error"] and f["attempts"] == 1 for f in result.failures)

    def test_one_outcome_per_item_in_order(self, strategy_options: dict[str, Any]) -> None:
        items, outcomes = map_items(
            self.strategy,
            self.workload,
            strategy_options,
            case=self.case,
            scenario="none",
            memo=False,
            workload_options=dict(self.workload_options),
        )
        assert [o.index for o in outcomes] == list(range(len(items)))
        spec = RunSpec(
            strategy=self.strategy,
            workload=self.workload,
            case=self.case,
            scenario="none",
            workload_options=dict(self.workload_options),
        )
        with started_workload(spec) as (work, _):
            assert [o.value for o in outcomes] == [work.map_item(item) for item in items]
        assert all(o.ok and o.attempts == 1 for o in outcomes)

    def test_survives_worker_crashes(self, strategy_options: dict[str, Any]) -> None:
        if not self.crashes:
            pytest.skip("this strategy runs no worker processes")
        result = self.run(
            strategy_options,
            scenario="none",
            crash_rate=0.1,
            retry="fixed",
            retry_options={"max_attempts": 5, "delay": 0.0},
        )
        assert_matches_reference(result)


def _through_a_pipe(value: Any) -> Any:
    """The value as a process pool's worker receives it (serialised the way multiprocessing does)."""
    from multiprocessing.reduction import ForkingPickler

    return ForkingPickler.loads(bytes(ForkingPickler.dumps(value)))


class WorkloadContract:
    """What every workload must do, as tests. Subclass it as ``TestSomething`` and set ``workload`` (and ``case``,
    ``workload_options`` as ``--set`` would give them, ``strategies`` to compare).

    Checks: the reference does not call the map function; outputs are the same under every strategy and seed;
    every scenario profiles the same tasks, the map task among them; ``limit_s`` is never above a measured wall;
    items and values survive pickling (process pools send them); bad inputs raise ``UsageError``; every worker
    resource opened is closed; a factory that raises fails every item clearly; a teardown that raises is
    reported; an async factory works in worker processes.
    """

    workload: ClassVar[str] = ""
    case: ClassVar[str | None] = None
    input_path: ClassVar[str | None] = None  # an input file instead of a case
    workload_options: ClassVar[dict[str, Any]] = {}
    strategies: ClassVar[tuple[str, ...]] = ("sequential", "threads", "asyncio")
    plugins: ClassVar[tuple[str, ...]] = ()  # plugin files or modules that supply the workload (as --plugin)

    def spec(self, **fields: Any) -> RunSpec:
        fields.setdefault("scenario", "none")
        if "scenario" in fields and fields["scenario"] is None:
            del fields["scenario"]
        fields.setdefault("input_path", self.input_path)
        return RunSpec(
            strategy="sequential",
            workload=self.workload,
            case=self.case,
            workload_options=dict(self.workload_options),
            plugins=list(self.plugins),
            **fields,
        )

    def workload_class(self) -> type[Workload]:
        return get_registry(self.plugins).workload(self.workload)

    def run(self, strategy: str = "sequential", **fields: Any) -> RunResult:
        spec = self.spec(**fields)
        return execute(spec.replace(strategy=strategy))

    def test_reference_does_not_call_the_map_function(self, monkeypatch: pytest.MonkeyPatch) -> None:
        work = self.workload_class()(self.spec(), ResourceCache())
        raw = work.load_input()

        def forbidden(*_args: Any) -> Any:
            raise AssertionError("the reference called the map function: it must be computed apart from the tasks")

        monkeypatch.setattr(type(work), "map_item", forbidden)
        monkeypatch.setattr(type(work), "amap_item", forbidden)
        if work.reference(raw) is None:
            pytest.skip("this workload has no reference of its own (runs are unverified or use a recorded one)")

    def test_outputs_are_the_same_under_every_strategy_and_seed(self) -> None:
        outputs = {}
        for seed in (0, 1):  # under the default scenario's faults, which the seed decides
            for strategy in self.strategies:
                result = self.run(
                    strategy,
                    seed=seed,
                    scenario=None,
                    **self.shrunk_latency(None),
                    retry="exponential",
                    retry_options={"max_attempts": 30, "cap": 0.05},
                )
                assert result.complete and result.correct is not False, (
                    strategy,
                    seed,
                    result.error,
                    result.failures[:3],
                    result.mismatch,
                )
                outputs[strategy, seed] = json.dumps(canonical(result.output), sort_keys=True)
        assert len(set(outputs.values())) == 1, f"outputs differ: {sorted(outputs)}"

    def test_every_scenario_profiles_the_same_tasks(self) -> None:
        cls = self.workload_class()
        work = cls(self.spec(), ResourceCache())
        tasks = {scenario: set(work.task_profiles(scenario)) for scenario in cls.scenarios}
        assert len({frozenset(t) for t in tasks.values()}) == 1, f"scenarios profile different tasks: {tasks}"
        every = next(iter(tasks.values()))
        assert not every or cls.map_task in every, f"the map task {cls.map_task!r} is not profiled: {every}"

    def test_limit_is_never_above_a_measured_wall(self) -> None:
        cls = self.workload_class()
        for scenario in cls.scenarios:
            result = self.run("asyncio", scenario=scenario, **self.shrunk_latency(scenario))
            if result.limit_s is not None and result.complete:
                assert result.limit_s <= result.wall_s, (scenario, result.limit_s, result.wall_s)

    def test_items_and_values_survive_pickling(self) -> None:
        with started_workload(self.spec()) as (work, started):
            task = Task.build(started, workload=work)
            items = work.prepare(work.load_input(), task.stage)
            assert items, "the workload prepared no items"
            assert _through_a_pipe(items) == items
            values = [work.map_item(item) for item in items[:20]]
            assert _through_a_pipe(values) == values

    def shrunk_latency(self, scenario: str | None) -> dict[str, Any]:
        """``latency_scale=0.01`` when the scenario's tasks have latency to scale (a scale is refused otherwise)."""
        cls = self.workload_class()
        profiles = cls(self.spec(), ResourceCache()).task_profiles(scenario or cls.default_scenario)
        return {"latency_scale": 0.01} if any(p.latency_s for p in profiles.values()) else {}

    def factory_kind(self) -> str | None:
        """``"sync"`` or ``"async"``: the form of the workload's worker factory; None without one. (Calling a
        generator function runs none of its body.)"""
        made = self.workload_class()(self.spec(), ResourceCache()).worker_factory()
        return None if made is None else "async" if inspect.isasyncgen(made) else "sync"

    def has_worker_factory(self) -> bool:
        return self.factory_kind() is not None

    def test_every_worker_resource_opened_is_closed(self) -> None:
        for strategy in dict.fromkeys((*self.strategies, "processes")):
            result = self.run(strategy)
            assert result.complete and result.correct is not False, (strategy, result.error, result.failures[:3])
            resources = result.worker_resources
            if not self.has_worker_factory():
                assert resources is None, (strategy, resources)
                continue
            assert resources is not None and resources["opened"] >= 1, (strategy, resources)
            assert resources["closed"] == resources["opened"] and not resources["errors"], (strategy, resources)

    def test_a_worker_factory_that_raises_fails_every_item_clearly(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def broken(_self: Any) -> Any:
            raise ConnectionRefusedError("the contract's factory refuses")
            yield  # a generator: the factory's form

        cls = self.workload_class()
        if not self.has_worker_factory():
            pytest.skip("this workload has no worker factory")
        monkeypatch.setattr(cls, "worker_factory", broken)
        for strategy in ("sequential", "threads", "asyncio"):  # in this process, where the patch is seen
            result = self.run(strategy, retry="exponential", retry_options={"max_attempts": 3, "cap": 0.0})
            assert not result.complete and result.failed == result.items > 0, strategy
            for failure in result.failures:
                assert "the worker factory raised ConnectionRefusedError" in failure["error"], (strategy, failure)
                assert failure["attempts"] == 1, (strategy, failure)  # a broken factory is not retried
            assert result.worker_resources == {"opened": 0, "closed": 0, "errors": []}, strategy

    def test_a_worker_teardown_that_raises_is_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cls = self.workload_class()
        if not self.has_worker_factory():
            pytest.skip("this workload has no worker factory")
        original = cls.worker_factory

        def failing_teardown(self: Any) -> Any:
            gen = original(self)
            if inspect.isasyncgen(gen):

                async def agen() -> Any:
                    yield await gen.__anext__()
                    with contextlib.suppress(StopAsyncIteration):
                        await gen.__anext__()
                    raise OSError("the contract's teardown fails")

                return agen()

            def sgen() -> Any:
                yield next(gen)
                with contextlib.suppress(StopIteration):
                    next(gen)
                raise OSError("the contract's teardown fails")

            return sgen()

        monkeypatch.setattr(cls, "worker_factory", failing_teardown)
        for strategy in ("sequential", "threads", "asyncio"):
            result = self.run(strategy)
            assert result.complete and result.correct is not False, (strategy, result.failures[:3])
            resources = result.worker_resources
            assert resources is not None and resources["closed"] == resources["opened"] >= 1, (strategy, resources)
            assert any("OSError: the contract's teardown fails" in e for e in resources["errors"]), resources

    def test_an_async_worker_factory_works_in_worker_processes(self) -> None:
        if self.factory_kind() != "async":
            pytest.skip("this workload has no async worker factory")
        for strategy in ("processes", "hybrid"):
            result = self.run(strategy, strategy_options={"workers": 2})
            assert result.complete and result.correct is not False, (strategy, result.error, result.failures[:3])
            resources = result.worker_resources
            assert resources is not None and resources["closed"] == resources["opened"] >= 1, (strategy, resources)

    def test_bad_inputs_raise_usage_error(self, tmp_path: Any) -> None:
        cls = self.workload_class()
        bad_case = self.spec().replace(case="no-such-case-here", input_path=None)
        with pytest.raises(UsageError):
            cls(bad_case, ResourceCache()).load_input()
        empty = tmp_path / "empty.txt"
        empty.write_text("", encoding="utf-8")
        for path in (str(tmp_path / "missing.txt"), str(empty)):
            with pytest.raises(UsageError):
                cls(self.spec().replace(case=None, input_path=path), ResourceCache()).load_input()
