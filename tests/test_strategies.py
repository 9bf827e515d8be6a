"""The built-in strategies agree with the reference and with each other, item by item and attempt by attempt."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchbench.cli.app import main
from orchbench.harness.isolate import run_isolated
from orchbench.harness.plugins import get_registry
from orchbench.harness.runner import check_outcomes, execute
from orchbench.harness.specs import build_specs
from orchbench.harness.task import Task
from orchbench.runtime.cache import ResourceCache
from orchbench.runtime.workers import WorkerCounts, async_worker_scope, worker_scope
from orchbench.strategies import hybrid, pool, processes
from orchbench.strategies.asyncio_strategy import run_bounded
from orchbench.types import Outcome, RunOptions, RunResult, RunSpec
from orchbench.workloads.anagrams import tasks

STRATEGIES = ["sequential", "threads", "asyncio", "processes", "hybrid"]
PATIENT = {"max_attempts": 40, "base": 0.0, "cap": 0.0}  # nothing gives up, nothing waits between attempts
_RESOURCES = ResourceCache()  # the dictionary index, built once for this test process


def map_items(name: str, options: dict, spec: RunSpec, items: list[str]) -> list[Outcome]:
    """``strategy.map`` over ``items`` with the run's real Task (worker processes build their own)."""
    registry = get_registry()
    task = Task.build(spec, workload=registry.workload(spec.workload)(spec, _RESOURCES))
    strategy = registry.strategy(name)(**options)
    strategy.start(spec)
    try:
        outcomes = strategy.map(task, items)
    finally:
        strategy.stop()
    check_outcomes(outcomes, len(items))
    return outcomes


def test_every_strategy_is_registered_with_its_options():
    registry = get_registry()
    assert not registry.problems
    for name in STRATEGIES:
        assert registry.entries["strategy"][name].source.distribution == "orchbench"
    assert set(registry.strategy("threads").options) == {"workers"}
    assert set(registry.strategy("asyncio").options) == {"concurrency", "adaptive"}
    assert {"workers", "chunk"} <= set(registry.strategy("processes").options)
    assert {"workers", "concurrency", "chunk"} <= set(registry.strategy("hybrid").options)


_WORD = st.text(alphabet="aeilnorstéAEILNORST", min_size=1, max_size=7)
_GAP = st.sampled_from([" ", "  ", "-", ", ", ". ", "\n", "'s ", "! "])
_TEXT = st.lists(st.tuples(_WORD, _GAP), min_size=1, max_size=40).map(lambda parts: "".join(w + g for w, g in parts))
_OPTIONS = {
    "sequential": st.just({}),
    "threads": st.fixed_dictionaries({"workers": st.integers(1, 8)}),
    "asyncio": st.fixed_dictionaries({"concurrency": st.integers(1, 50)}, optional={"adaptive": st.booleans()}),
    "processes": st.fixed_dictionaries({"workers": st.integers(1, 3)}, optional={"chunk": st.integers(1, 20)}),
    "hybrid": st.fixed_dictionaries(
        {"workers": st.integers(1, 2), "concurrency": st.integers(1, 16)}, optional={"chunk": st.integers(1, 30)}
    ),
}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_TEXT,
    seed=st.integers(0, 2**31),
    fault_rate=st.floats(0.0, 0.5),
    fast=st.booleans(),
    options=st.fixed_dictionaries(_OPTIONS),
)
def test_strategies_agree_with_reference_and_each_other(text, seed, fault_rate, fast, options):
    spec = RunSpec(
        "sequential",
        case=None,
        scenario="fast" if fast else "none",
        seed=seed,
        fault_rate=fault_rate,
        latency_scale=0.02 if fast else None,
        retry_options=PATIENT,
    )
    items = tasks.get_words(tasks.filter_input(text))
    runs = {name: map_items(name, options[name], spec, items) for name in STRATEGIES}
    reference = get_registry().workload("anagrams")(spec, _RESOURCES).reference(text)
    expected_attempts = [o.attempts for o in runs["sequential"]]
    for name, outcomes in runs.items():
        assert all(o.ok for o in outcomes), (name, [o.error for o in outcomes if not o.ok])
        counts = get_registry().workload("anagrams")(spec, _RESOURCES).reduce([o.value for o in outcomes])
        assert counts == reference, name
        assert [o.value for o in outcomes] == [o.value for o in runs["sequential"]], name
        assert [o.attempts for o in outcomes] == expected_attempts, name


_FAULTY = RunSpec("sequential", case="large", scenario="none", seed=7, fault_rate=0.3, retry_options=PATIENT)


@functools.cache
def _baseline() -> RunResult:
    return execute(_FAULTY)


@pytest.mark.parametrize("name", STRATEGIES)
def test_execute_with_faults_is_correct_with_the_same_attempts(name):
    result = execute(_FAULTY.replace(strategy=name))
    baseline = _baseline()
    assert result.ok, result.error or result.failures
    assert result.items == result.succeeded == 128
    assert result.retries > 0
    assert (result.attempts, result.retries) == (baseline.attempts, baseline.retries)


@pytest.mark.parametrize("name", ["threads", "hybrid"])
def test_end_to_end_in_a_fresh_process(name):
    spec = RunSpec(name, case="large", scenario="fast", seed=3, retry_options=PATIENT)
    result = run_isolated(spec)
    assert result.ok, result.error or result.failures
    assert result.peak_rss and result.peak_rss > 0


def test_seed_design_preset_runs_the_hybrid():
    [(label, spec)] = build_specs(["original-design"], RunOptions(case="medium", scenario="none"))
    assert (label, spec.strategy, spec.strategy_options) == ("original-design", "hybrid", {"concurrency": 100})
    result = execute(spec)
    assert result.ok, result.error or result.failures


@pytest.mark.parametrize(
    "args",
    [
        ["threads", "--set", "workers=0"],
        ["asyncio", "--set", "concurrency=0"],
        ["processes", "--set", "chunk=zero"],
        ["hybrid", "--set", "workers=-2"],
        ["processes", "--set", "restarts=-1"],
        ["threads", "--set", "strategy.concurrency=4"],
        ["hybrid", "--set", "colour=blue"],
    ],
)
def test_a_bad_strategy_option_is_one_line(args, capsys):
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orchbench: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


class _Recorder:
    """A stand-in for a Task that records how many items run at once (a real Task cannot tell us)."""

    def __init__(self, fail_index: int | None = None) -> None:
        self.fail_index = fail_index
        self.running = self.peak = self.entered = 0
        self.cancelled = 0
        self.declared: int | None = None
        self.lock = threading.Lock()
        self.capacity = None
        self.workload = types.SimpleNamespace(worker_factory=lambda: None)  # no worker resource
        self.workers = WorkerCounts()

    def declare_in_flight(self, per_process: int) -> None:
        self.declared = per_process

    def bounded(self, n: int) -> int:
        return n

    def worker(self, threads: int = 0):
        return worker_scope(self.workload, self.workers, threads)

    def async_worker(self, threads: int = 0):
        return async_worker_scope(self.workload, self.workers, threads)

    def _enter(self) -> None:
        with self.lock:
            self.running += 1
            self.entered += 1
            self.peak = max(self.peak, self.running)

    def _leave(self) -> None:
        with self.lock:
            self.running -= 1

    def run(self, index, item, generation=0):
        self._enter()
        try:
            time.sleep(0.001)
            return Outcome(index, value=item, attempts=1)
        finally:
            self._leave()

    async def arun(self, index, item, generation=0, limiter=None):
        epoch = await limiter.acquire() if limiter is not None else 0  # one attempt, as a Task's takes a slot
        self._enter()
        try:
            if index == self.fail_index:
                raise ValueError("a bug, not an item's failure")
            await asyncio.sleep(0.001 if self.fail_index is None else 30)
            return Outcome(index, value=item, attempts=1)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self._leave()
            if limiter is not None:
                limiter.release(epoch, 0.0, None)


@pytest.mark.parametrize(
    "name,options,key", [("threads", {"workers": 3}, "workers"), ("asyncio", {"concurrency": 5}, "concurrency")]
)
def test_concurrency_is_bounded(name, options, key):
    recorder = _Recorder()
    outcomes = get_registry().strategy(name)(**options).map(recorder, list(range(300)))
    assert [o.value for o in outcomes] == list(range(300))
    assert 1 <= recorder.peak <= options[key] == recorder.declared  # the bound it runs under is the one it declared


def test_one_error_cancels_every_other_coroutine():
    recorder = _Recorder(fail_index=10)
    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(run_bounded(recorder, enumerate(range(100)), 0, 20))
    # every other item that had started (each mid-await) was cancelled: at least the 19 beside the failing one
    assert recorder.cancelled == recorder.entered - 1 >= 19
    assert recorder.running == 0


def test_default_chunks():
    # processes: about eight chunks per worker, at most MAX_CHUNK
    assert pool.adaptive_chunk(93, 2, processes.CHUNKS_PER_WORKER, 1, processes.MAX_CHUNK) == 6
    assert pool.adaptive_chunk(10**6, 2, processes.CHUNKS_PER_WORKER, 1, processes.MAX_CHUNK) == processes.MAX_CHUNK
    # hybrid: a chunk fills the event loop when the items allow, and there are several chunks per worker
    assert hybrid.default_chunk(93, 2, 64) == 47
    assert hybrid.default_chunk(1917, 2, 64) == 240
    assert hybrid.default_chunk(5, 8, 64) == 1
    # hybrid, items that mostly wait: one chunk per worker (each chunk's end is a barrier), bounded
    assert hybrid.default_chunk(10_000, 2, 128, waits=True) == 5000
    assert hybrid.MAX_WAITING_CHUNK - 300 < hybrid.default_chunk(10**6, 2, 128, waits=True) <= hybrid.MAX_WAITING_CHUNK
    assert list(pool.chunks(enumerate("abcde"), 2)) == [[(0, "a"), (1, "b")], [(2, "c"), (3, "d")], [(4, "e")]]
    # 300 items on 2 workers: 6 chunks of 50, not 5 of 64 (which gave one worker 192 items and the other 108)
    assert hybrid.default_chunk(300, 2, 64) == 50
    for n, chunk, workers in [(300, 64, 2), (1000, 97, 3), (7, 2, 4), (10**5, 512, 8)]:
        size = pool.even_chunk(n, chunk, workers)
        count = -(-n // size)
        assert size <= chunk and count % workers == 0 or count < workers
        sizes = [len(c) for c in pool.chunks(range(n), size)]
        per_worker = [sum(sizes[w::workers]) for w in range(workers)]  # chunks dealt in turn
        assert max(per_worker) - min(per_worker) <= size


def test_a_cancelled_run_starts_no_further_item_even_when_items_never_wait():
    """Ctrl-C cancels the main task; coroutines whose items never yield must still stop at once."""
    started = []
    main_task: list[asyncio.Task] = []

    class CpuOnly:
        async def arun(self, index, item, generation=0, limiter=None):
            started.append(index)
            if index == 5:
                main_task[0].cancel()  # what asyncio.run's SIGINT handler does
            return Outcome(index, value=item, attempts=1)

    async def run() -> None:
        main_task.append(asyncio.current_task())
        await run_bounded(CpuOnly(), enumerate(range(1000)), 0, 20)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())
    assert started == [0, 1, 2, 3, 4, 5]
