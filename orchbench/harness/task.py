"""The ready task a strategy receives: the workload's per-item work wrapped with faults, retry and caches.

A Task never raises for an item's failure: it returns an Outcome that carries the value or the final error.
Worker processes rebuild it from the plain-data RunSpec with :func:`task_for`, once per process.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchbench.api import RetryPolicy, Workload
from orchbench.errors import AttemptTimeout, InjectedFault
from orchbench.harness.attempts import AttemptLog, acall_with_retry, call_with_retry
from orchbench.harness.cache import ResourceCache
from orchbench.harness.faults import FaultModel, apply_overrides, require_timeout_for_hangs
from orchbench.harness.hedge import acall_hedged
from orchbench.types import Outcome, RunSpec

if TYPE_CHECKING:
    from orchbench.harness.limiter import AttemptSlots

HARNESS_TRANSIENT: tuple[type[BaseException], ...] = (InjectedFault, AttemptTimeout)
WORKER_HOOK_ENV = "ORCHBENCH_WORKER_HOOK"


class StageFailed(Exception):
    """A prepare stage (e.g. filter_input) failed for good: no item can be produced."""


def _describe(exc: BaseException, attempts: int) -> str:
    return f"{type(exc).__name__}: {exc} (after {attempts} attempt{'s' if attempts != 1 else ''})"


class Task:
    """Run one item (sync :meth:`run` or async :meth:`arun`) under the run's faults and retry policy."""

    def __init__(self, spec: RunSpec, workload: Workload, policy: RetryPolicy, faults: FaultModel) -> None:
        self.spec = spec
        self.workload = workload
        self.policy = policy
        self.faults = faults
        self.transient = HARNESS_TRANSIENT + tuple(workload.transient_errors)
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
        from orchbench.plugins import get_registry

        registry = get_registry(spec.plugins)
        if workload is None:
            workload = registry.workload(spec.workload)(spec, ResourceCache(spec.cache))
        policy = registry.retry_policy(spec.retry)(**spec.retry_options)
        scenario = spec.scenario or workload.default_scenario
        profiles = apply_overrides(workload.task_profiles(scenario), spec)
        require_timeout_for_hangs(profiles, policy.timeout_s)
        return cls(spec, workload, policy, FaultModel(spec.seed, profiles, in_worker=in_worker))

    def run(self, index: int, item: Any, generation: int = 0) -> Outcome:
        """Compute one item's value (sync); ``generation`` counts resubmissions after a worker crash."""
        self._warm_up()
        task = self.workload.map_task
        log = AttemptLog()

        def attempt(k: int) -> Any:
            self.faults.act(task, index, k, generation)
            return self.workload.map_item(item)

        try:
            value = call_with_retry(self.policy, self.transient, attempt, log)
        except Exception as exc:  # an item's final failure is data, not an exception
            return Outcome(index, error=_describe(exc, log.attempts), attempts=log.attempts, latencies=log.latencies)
        return Outcome(index, value=value, attempts=log.attempts, latencies=log.latencies)

    async def arun(self, index: int, item: Any, generation: int = 0, limiter: AttemptSlots | None = None) -> Outcome:
        """Compute one item's value (async); latency and waits yield to the event loop. With ``limiter``, every
        attempt waits for room under it (an attempt holds a slot, an item between attempts does not).
        Idempotent tasks are hedged when the policy says so."""
        self._warm_up()
        log = AttemptLog()
        if self._acts:
            task, act, work = self.workload.map_task, self.faults.act_async, self.workload.amap_item

            async def attempt(k: int) -> Any:
                await act(task, index, k, generation)
                return await work(item)
        else:
            amap_item = self.workload.amap_item

            def attempt(k: int) -> Any:  # type: ignore[misc]  # the coroutine itself is the attempt's awaitable
                return amap_item(item)

        loop = acall_hedged if self.hedging else acall_with_retry
        try:
            value = await loop(self.policy, self.transient, attempt, log, limiter)
        except Exception as exc:
            return Outcome(
                index,
                error=_describe(exc, log.attempts),
                attempts=log.attempts,
                latencies=log.latencies,
                hedges=log.hedges,
                hedges_won=log.hedges_won,
            )
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
