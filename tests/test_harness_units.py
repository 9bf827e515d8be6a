"""Faults, retry and caching on their own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from orchbench.api import TaskProfile
from orchbench.errors import AttemptTimeout, TransientError, UsageError
from orchbench.harness.attempts import AttemptLog, acall_with_retry, call_with_retry
from orchbench.harness.faults import Fault, FaultModel, apply_overrides, unit_draw
from orchbench.harness.retry import ExponentialRetry, FixedRetry, NoRetry
from orchbench.runtime.cache import ResourceCache
from orchbench.types import RunSpec


def test_draws_are_a_pure_function_of_their_arguments():
    assert unit_draw(1, "t", 2, 3) == unit_draw(1, "t", 2, 3)
    draws = {unit_draw(1, "t", i, 1) for i in range(1000)}
    assert len(draws) == 1000 and all(0 <= d < 1 for d in draws)
    share = sum(d < 0.25 for d in draws) / len(draws)
    assert 0.18 < share < 0.32  # roughly uniform


def test_crashes_only_in_workers_and_only_on_first_submission():
    profiles = {"t": TaskProfile(crash_rate=1.0)}
    assert FaultModel(0, profiles, in_worker=False).decide("t", 0, 1) is Fault.NONE
    assert FaultModel(0, profiles, in_worker=True).decide("t", 0, 1) is Fault.CRASH
    assert FaultModel(0, profiles, in_worker=True).decide("t", 0, 1, generation=1) is Fault.NONE


@pytest.mark.parametrize("field,value", [("fault_rate", -0.1), ("fault_rate", 1.5), ("latency_scale", -1.0)])
def test_out_of_range_overrides_are_refused(field, value):
    with pytest.raises(UsageError):
        apply_overrides({"t": TaskProfile()}, RunSpec(strategy="sequential", **{field: value}))


def test_rates_adding_up_past_one_are_refused():
    with pytest.raises(UsageError, match="more than 1"):
        apply_overrides({"t": TaskProfile()}, RunSpec(strategy="s", fault_rate=0.6, hang_rate=0.6))


def test_resource_cache_loads_once_unless_disabled():
    loads = []
    cache = ResourceCache(enabled=True)
    for _ in range(3):
        assert cache.get("k", lambda: loads.append(1) or "v") == "v"
    assert len(loads) == 1
    off = ResourceCache(enabled=False)
    for _ in range(3):
        off.get("k", lambda: loads.append(1) or "v")
    assert len(loads) == 4 and off.loads == 3


class Permanent(Exception):
    pass


def _flaky(failures: list[BaseException]):
    def attempt(k: int):
        if failures:
            raise failures.pop(0)
        return k

    return attempt


def test_transient_errors_are_retried_until_success():
    log = AttemptLog()
    value = call_with_retry(FixedRetry(delay=0), (TransientError,), _flaky([TransientError(), TransientError()]), log)
    assert value == 3 and log.attempts == 3 and len(log.latencies) == 3


def test_permanent_errors_are_not_retried():
    log = AttemptLog()
    with pytest.raises(Permanent):
        call_with_retry(FixedRetry(delay=0), (TransientError,), _flaky([Permanent()]), log)
    assert log.attempts == 1


def test_giving_up_reraises_the_last_error():
    log = AttemptLog()
    with pytest.raises(TransientError):
        call_with_retry(NoRetry(), (TransientError,), _flaky([TransientError()]), log)
    assert log.attempts == 1


def test_retry_after_is_honoured_over_a_shorter_backoff(monkeypatch):
    import time as time_module

    slept = []
    monkeypatch.setattr(time_module, "sleep", lambda s: slept.append(s))
    log = AttemptLog()
    call_with_retry(FixedRetry(delay=0.0), (TransientError,), _flaky([TransientError(retry_after=0.3)]), log)
    assert slept == [0.3]


def test_async_attempts_are_cut_at_the_timeout():
    async def attempt(k: int):
        if k == 1:
            await asyncio.sleep(10)
        return k

    log = AttemptLog()
    policy = ExponentialRetry(timeout=0.05, base=0.0, cap=0.0)
    assert asyncio.run(acall_with_retry(policy, (AttemptTimeout,), attempt, log)) == 2
    assert log.attempts == 2 and log.latencies[0] < 10


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2 if hasattr(os, "sched_getaffinity") else True,
    reason="needs an affinity mask of two CPUs or more, to narrow",
)
def test_a_process_allowed_one_cpu_sizes_itself_for_one():
    """``usable_cores`` follows the affinity mask (as a container's or taskset's), and so do what counts cores:
    the CPU-bound default of in-flight items and the process pool's default workers."""
    code = """
import os
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import orchbench
from orchbench.harness.task import Task
from orchbench.strategies.processes import default_workers
task = Task.build(orchbench.RunSpec("processes", workload="calibrate"))
print(orchbench.usable_cores(), task.useful_in_flight(8), default_workers(task, 8), os.cpu_count())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    usable, in_flight, workers, machine = map(int, out.split())
    assert (usable, in_flight, workers) == (1, 1, 1)
    assert machine >= 2  # what the machine has is not what this process may use
