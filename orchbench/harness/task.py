"""The ready task a strategy receives: the workload's per-item work wrapped with faults, retry and caches.

A Task never raises for an item's failure: it returns an Outcome that carries the value or the final error.
Worker processes rebuild it from the plain-data RunSpec with :func:`task_for`, once per process.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import TYPE_CHECKING, Any

from orchbench.api import RetryPolicy, Workload
from orchbench.errors import AttemptTimeout, InjectedFault, TransientError, UsageError
from orchbench.harness import timeaccount
from orchbench.harness.attempts import AttemptLog, acall_with_retry, call_with_retry
from orchbench.harness.faults import FaultModel, apply_overrides, require_timeout_for_hangs
from orchbench.harness.hedge import acall_hedged
from orchbench.harness.noise import usable_cores
from orchbench.runtime.cache import ResourceCache
from orchbench.runtime.workers import (
    Worker,
    WorkerCounts,
    async_worker_scope,
    close_fallbacks,
    worker_scope,
)
from orchbench.types import Outcome, RunSpec

if TYPE_CHECKING:
    from orchbench.api import Task as TaskContract
    from orchbench.runtime.limiter import AttemptSlots

HARNESS_TRANSIENT: tuple[type[BaseException], ...] = (InjectedFault, AttemptTimeout, TransientError)
WORKER_HOOK_ENV = "ORCHBENCH_WORKER_HOOK"


class StageFailed(Exception):
    """A prepare stage (e.g. filter_input) failed for good: no item can be produced."""


def _describe(exc: BaseException, attempts: int) -> str:
    return f"{type(exc).__name__}: {exc} (after {attempts} attempt{'s' if attempts != 1 else ''})"


class Task:
    """Run one item (sync :meth:`run` or async :meth:`arun`) under the run's faults and retry policy.

    It also carries what a strategy and the workload need to know of each other to size themselves:
    :attr:`mostly_waits` and :meth:`useful_in_flight` (what the workload declares, for a strategy's defaults) and
    :meth:`declare_in_flight` (what the strategy will run at once in one process, for the workload's resources).
    """

    def __init__(self, spec: RunSpec, workload: Workload, policy: RetryPolicy, faults: FaultModel) -> None:
        self.spec = spec
        self.workload = workload
        workload.in_flight_per_process = spec.in_flight_per_process
        self.policy = policy
        self.faults = faults
        self.transient = HARNESS_TRANSIENT + tuple(workload.transient_errors)
        self.capacity = check_capacity(workload)
        # the capacity's bound around every attempt: a semaphore of this process, which a strategy of several
        # processes replaces with one they share
        self.capacity_gate: Any = threading.BoundedSemaphore(self.capacity) if self.capacity else None
        self.workers = workload._worker_counts = WorkerCounts()
        self.prepare_attempts = 0
        self.prepare_calls = 0
        profile = faults.profiles.get(workload.map_task)
        # hedges run only where the task may safely run twice, and only in async code (see harness/hedge.py)
        self.hedging = policy.hedge_copies > 1 and profile is not None and profile.idempotent
        # a task with no latency, fault or cost of the harness's own (the scoring workload's, whose server has
        # them) skips the fault model: no draw per attempt
        self._acts = profile is not None and any(
            (profile.latency_s, profile.fault_rate, profile.hang_rate, profile.crash_rate, profile.cpu_ms)
        )
        self._warm = False

    def _warm_up(self) -> None:
        # Before the first attempt's clock starts: a concurrent strategy's other attempts are not started yet
        # (asyncio) or wait on the resource cache's lock outside their own attempts (threads).
        if not self._warm:
            self.workload.warm()
            self._warm = True

    @classmethod
    def build(cls, spec: RunSpec, *, in_worker: bool = False, workload: Workload | None = None) -> Task:
        from orchbench.harness.plugins import get_registry

        registry = get_registry(spec.plugins)
        if workload is None:
            workload = registry.workload(spec.workload)(spec, ResourceCache(spec.cache))
        policy = registry.retry_policy(spec.retry)(**spec.retry_options)
        scenario = spec.scenario or workload.default_scenario
        profiles = apply_overrides(workload.task_profiles(scenario), spec, workload.map_task)
        require_timeout_for_hangs(profiles, policy.timeout_s)
        return cls(spec, workload, policy, FaultModel(spec.seed, profiles, in_worker=in_worker))

    def worker(self, threads: int = 0) -> AbstractContextManager[Worker]:
        """The calling thread is one worker for the block: the workload's resource for it is opened on first use
        and closed when the block ends, however it ends (async items run on one loop kept for the block).
        ``threads``: the pool size for sync calls made from an event loop this worker runs."""
        return worker_scope(self.workload, self.workers, threads)

    def async_worker(self, threads: int = 0) -> AbstractAsyncContextManager[Worker]:
        """The running event loop is one worker for the block (its tasks made inside share its resource); sync
        calls from it run in up to ``threads`` threads, each a worker of its own."""
        return async_worker_scope(self.workload, self.workers, threads)

    def make_worker(self, threads: int = 0) -> Worker:
        """A worker to hold apart from any block (e.g. a Ray actor's, whose calls each run in a context of their
        own): make it current for each call with ``worker.as_current()``, end it with ``close()`` (sync) or
        ``await aclose()`` (on its loop)."""
        return Worker(self.workload, self.workers, threads)

    def close_workers(self) -> None:
        """Close the workers made for threads of a strategy that opened none itself (a plugin's own)."""
        close_fallbacks(self.workload)

    def bounded(self, n: int) -> int:
        """``n`` items in flight, but never more than the workload's :attr:`~orchbench.Workload.capacity`."""
        return max(1, min(n, self.capacity or n))

    @property
    def mostly_waits(self) -> bool:
        """True when an item's time is mostly waiting (on a service, a latency) rather than CPU work in this
        process: the workload says so (:attr:`Workload.items_wait`, or a bound in :meth:`Workload.max_in_flight`),
        or the map task's profile has more latency than CPU cost."""
        if self.workload.items_wait or self.workload.max_in_flight():
            return True
        profile = self.faults.profiles.get(self.workload.map_task)
        return profile is not None and profile.latency_s * 1000.0 > profile.cpu_ms

    def useful_in_flight(self, n: int) -> int:
        """Items worth having in flight at once, over every process, for ``n`` items: when they mostly wait, all of
        them, up to the workload's bound (:meth:`Workload.max_in_flight`, e.g. a server's capacity); else one per
        CPU this process may use; never more than the workload's capacity. Strategies size their default
        concurrency from it."""
        if not self.mostly_waits:
            return self.bounded(usable_cores())
        return self.bounded(min(n, self.workload.max_in_flight() or n))

    def declare_in_flight(self, per_process: int) -> RunSpec:
        """State the most items the strategy will run at once in one process (its threads, its event loop's
        slots; 1 for a worker that runs items in turn), before the first item runs. The workload sizes what it
        holds per process from it (:attr:`Workload.in_flight_per_process`, e.g. an HTTP connection pool), here
        and in every worker process whose task is built from the returned spec, which is also ``self.spec`` from
        now on: declare before sending ``task.spec`` to workers."""
        if per_process < 1:
            raise ValueError(f"a strategy runs at least one item at once per process, not {per_process}")
        self.spec = self.spec.replace(in_flight_per_process=per_process)
        self.workload.in_flight_per_process = per_process
        return self.spec

    @property
    def timeout_s(self) -> float | None:
        return self.policy.timeout_s

    def worker_preload(self) -> list[str]:
        """What a worker needs to build this Task, and the workload's preload; not the workload's when a memory
        profile watches the workers (the fork server is not profiled: each worker must build what it uses)."""
        from orchbench.harness import plugins

        own = [__name__, plugins.__name__]
        return own if os.environ.get(WORKER_HOOK_ENV) else [*own, *self.workload.worker_preload()]

    def run(self, index: int, item: Any, generation: int = 0) -> Outcome:
        """Compute one item's value (sync); ``generation`` counts resubmissions after a worker crash."""
        self._warm_up()
        task = self.workload.map_task
        log = AttemptLog()

        gate = self.capacity_gate

        def attempt(k: int) -> Any:
            if gate is None:
                self.faults.act(task, index, k, generation)
                return self.workload.map_item(item)
            gate.acquire()
            try:
                self.faults.act(task, index, k, generation)
                return self.workload.map_item(item)
            finally:
                gate.release()

        accounted = timeaccount.item_begin()
        try:
            value = call_with_retry(self.policy, self.transient, attempt, log)
        except Exception as exc:  # an item's final failure is data, not an exception
            timeaccount.item_end(accounted, log.attempts, False)
            return Outcome(index, error=_describe(exc, log.attempts), attempts=log.attempts, latencies=log.latencies)
        timeaccount.item_end(accounted, log.attempts, True)
        return Outcome(index, value=value, attempts=log.attempts, latencies=log.latencies)

    async def arun(self, index: int, item: Any, generation: int = 0, limiter: AttemptSlots | None = None) -> Outcome:
        """Compute one item's value (async); latency and waits yield to the event loop. With ``limiter``, every
        attempt waits for room under it (an attempt holds a slot, an item between attempts does not).
        Idempotent tasks are hedged when the policy says so."""
        self._warm_up()
        log = AttemptLog()
        if self.capacity_gate is not None:
            task, act, work = self.workload.map_task, self.faults.act_async, self.workload.amap_item
            gate = self.capacity_gate

            async def attempt(k: int) -> Any:
                await gate_acquire(gate)
                try:
                    await act(task, index, k, generation)
                    return await work(item)
                finally:
                    gate.release()
        elif self._acts:
            task, act, work = self.workload.map_task, self.faults.act_async, self.workload.amap_item

            async def attempt(k: int) -> Any:
                await act(task, index, k, generation)
                return await work(item)
        else:
            amap_item = self.workload.amap_item

            def attempt(k: int) -> Any:  # type: ignore[misc]  # the coroutine itself is the attempt's awaitable
                return amap_item(item)

        loop = acall_hedged if self.hedging else acall_with_retry
        accounted = timeaccount.item_begin("async")
        try:
            value = await loop(self.policy, self.transient, attempt, log, limiter)
        except Exception as exc:
            timeaccount.item_end(accounted, log.attempts, False)
            return Outcome(
                index,
                error=_describe(exc, log.attempts),
                attempts=log.attempts,
                latencies=log.latencies,
                hedges=log.hedges,
                hedges_won=log.hedges_won,
            )
        timeaccount.item_end(accounted, log.attempts, True)
        return Outcome(
            index,
            value=value,
            attempts=log.attempts,
            latencies=log.latencies,
            hedges=log.hedges,
            hedges_won=log.hedges_won,
        )

    def run_batch(self, batch: list[tuple[int, Any]], generation: int = 0) -> list[Outcome]:
        """Run several (index, item) pairs in order: the unit a process-pool worker receives."""
        return [self.run(index, item, generation) for index, item in batch]

    def stage(self, name: str, fn: Callable[[Any], Any], arg: Any) -> Any:
        """Run a prepare stage under faults and retry; raise StageFailed when it finally fails."""
        log = AttemptLog()
        self.prepare_calls += 1

        def attempt(k: int) -> Any:
            self.faults.act(name, 0, k)
            return fn(arg)

        try:
            return call_with_retry(self.policy, self.transient, attempt, log)
        except Exception as exc:
            raise StageFailed(f"{name}: {_describe(exc, log.attempts)}") from exc
        finally:
            self.prepare_attempts += log.attempts


if TYPE_CHECKING:

    def _keeps_the_contract(task: Task) -> TaskContract:  # mypy checks that this Task is what strategies are promised
        return task


def check_capacity(workload: Workload) -> int | None:
    """The workload's declared capacity, checked: a positive whole number, or None."""
    capacity = workload.capacity
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
        raise UsageError(f"workload {workload.name!r}: capacity must be a whole number of items >= 1, not {capacity!r}")
    return capacity


GATE_POLL_S = (0.001, 0.02)  # an event loop waiting on a cross-process gate polls it, backing off to the second


async def gate_acquire(gate: Any) -> None:
    """Take a slot of a semaphore shared by processes without blocking the event loop."""
    import asyncio

    pause = GATE_POLL_S[0]
    while not gate.acquire(False):
        await asyncio.sleep(pause)
        pause = min(GATE_POLL_S[1], pause * 2)


def build_task(spec: RunSpec) -> Task:
    """A Task for ``spec`` in the run's own process (e.g. a strategy sizing itself in ``start``); a worker process
    uses :func:`task_for`, which keeps one per process and runs the worker hook."""
    return Task.build(spec)


_worker_tasks: dict[str, Task] = {}
_hooked_pid: int | None = None


def run_worker_hook() -> None:
    """Call the ``module:function`` named by ``ORCHBENCH_WORKER_HOOK``, once per process (a forked child counts
    as a new process). ``orchbench profile --memory`` uses it to start memray in workers, whatever their start
    method; without the variable this does nothing."""
    global _hooked_pid
    if _hooked_pid == os.getpid():
        return
    _hooked_pid = os.getpid()
    target = os.environ.get(WORKER_HOOK_ENV)
    if target:
        module, _, name = target.partition(":")
        getattr(importlib.import_module(module), name)()


def task_for(spec: RunSpec | dict[str, Any]) -> Task:
    """This worker process's Task for ``spec``, built on first use and kept for the life of the process."""
    run_worker_hook()
    data = spec.to_dict() if isinstance(spec, RunSpec) else spec
    key = json.dumps(data, sort_keys=True)
    task = _worker_tasks.get(key)
    if task is None:
        task = _worker_tasks[key] = Task.build(RunSpec.from_dict(data), in_worker=True)
    return task
