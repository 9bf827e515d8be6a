"""Deterministic latency and faults: whether attempt k of task t on item i fails is a pure function of
(seed, t, i, k), so every strategy, order and rerun meets exactly the same failures."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import os
import signal
from dataclasses import replace
from typing import Any

from orchbench.api import TaskProfile
from orchbench.errors import InjectedFault, UsageError
from orchbench.runtime import deadline
from orchbench.types import RunSpec

HANG_S = 3600.0  # a hang lasts until the attempt's timeout cuts it


class Fault(enum.Enum):
    NONE = "none"
    EXCEPTION = "exception"
    HANG = "hang"
    CRASH = "crash"


def unit_draw(seed: int, task: str, index: int, attempt: int) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    digest = hashlib.blake2b(f"{seed}\0{task}\0{index}\0{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def apply_overrides(
    profiles: dict[str, TaskProfile], spec: RunSpec, map_task: str | None = None
) -> dict[str, TaskProfile]:
    """The scenario's profiles with the command line's overrides (rates, latency scale, CPU cost) applied.

    A ``map_task`` without a profile (a workload of one's own, which declares none) gets an empty one when an
    override is given, so faults and CPU cost are injected around its function too; a latency scale then has
    no latency to scale, and is refused rather than ignored."""
    for name in ("fault_rate", "hang_rate", "crash_rate"):
        value = getattr(spec, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1, not {value:g}")
    for name in ("latency_scale", "cpu_ms"):
        value = getattr(spec, name)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative, not {value:g}")
    overrides = (spec.fault_rate, spec.hang_rate, spec.crash_rate, spec.latency_scale, spec.cpu_ms)
    if map_task is not None and map_task not in profiles and any(v is not None for v in overrides):
        if spec.latency_scale not in (None, 1.0) and not any(p.latency_s for p in profiles.values()):
            raise UsageError(
                f"--latency-scale has no latency to scale: workload {spec.workload!r} declares none "
                "(its time is its own function's); leave it out"
            )
        profiles = {**profiles, map_task: TaskProfile()}
    out = {}
    for task, p in profiles.items():
        changes: dict[str, Any] = {}
        if spec.fault_rate is not None:
            changes["fault_rate"] = spec.fault_rate
        if spec.hang_rate is not None:
            changes["hang_rate"] = spec.hang_rate
        if spec.crash_rate is not None:
            changes["crash_rate"] = spec.crash_rate
        if spec.latency_scale is not None:
            changes["latency_s"] = p.latency_s * spec.latency_scale
        if spec.cpu_ms is not None:
            changes["cpu_ms"] = spec.cpu_ms
        q = replace(p, **changes)
        if q.fault_rate + q.hang_rate + q.crash_rate > 1.0:
            raise UsageError(f"fault, hang and crash rates of task {task!r} add up to more than 1")
        out[task] = q
    return out


class FaultModel:
    """Decides and acts out the fault of each attempt. Crashes happen only in worker processes, and only on an
    item's first submission (``generation`` 0), so a resubmitted item can finish."""

    def __init__(self, seed: int, profiles: dict[str, TaskProfile], in_worker: bool = False) -> None:
        self.seed = seed
        self.profiles = profiles
        self.in_worker = in_worker

    def decide(self, task: str, index: int, attempt: int, generation: int = 0) -> Fault:
        p = self.profiles.get(task)
        if p is None:
            return Fault.NONE
        u = unit_draw(self.seed, task, index, attempt)
        if u < p.fault_rate:
            return Fault.EXCEPTION
        if u < p.fault_rate + p.hang_rate:
            return Fault.HANG
        if u < p.fault_rate + p.hang_rate + p.crash_rate:
            return Fault.CRASH if self.in_worker and generation == 0 else Fault.NONE
        return Fault.NONE

    def attempts_to_succeed(self, task: str, index: int, max_attempts: int = 1000) -> int:
        """How many attempts task needs on item index before one has no fault (crashes aside)."""
        for attempt in range(1, max_attempts + 1):
            if self.decide(task, index, attempt) in (Fault.NONE, Fault.CRASH):
                return attempt
        return max_attempts

    def latency(self, task: str) -> float:
        p = self.profiles.get(task)
        return p.latency_s if p else 0.0

    def _outcome(self, fault: Fault, task: str, index: int, attempt: int) -> None:
        if fault is Fault.EXCEPTION:
            raise InjectedFault(f"{task} failed on item {index}, attempt {attempt}")
        if fault is Fault.CRASH:
            os.kill(os.getpid(), signal.SIGKILL)

    def act(self, task: str, index: int, attempt: int, generation: int = 0) -> None:
        """Sync: wait the latency, burn the CPU cost, then fail as decided (a hang waits for the deadline)."""
        p = self.profiles.get(task)
        if p is None:
            return
        fault = self.decide(task, index, attempt, generation)
        if fault is Fault.HANG:
            deadline.sleep(HANG_S)
        if p.latency_s:
            deadline.sleep(p.latency_s)
        if p.cpu_ms:
            deadline.burn_cpu(p.cpu_ms)
        self._outcome(fault, task, index, attempt)

    async def act_async(self, task: str, index: int, attempt: int, generation: int = 0) -> None:
        """Async: as :meth:`act`, but waiting yields to the event loop (the timeout is the caller's)."""
        p = self.profiles.get(task)
        if p is None:
            return
        fault = self.decide(task, index, attempt, generation)
        if fault is Fault.HANG:
            await asyncio.sleep(HANG_S)
        if p.latency_s:
            await asyncio.sleep(p.latency_s)
        if p.cpu_ms:
            deadline.burn_cpu(p.cpu_ms)
        self._outcome(fault, task, index, attempt)


def require_timeout_for_hangs(profiles: dict[str, TaskProfile], timeout_s: float | None) -> None:
    if timeout_s is None and any(p.hang_rate > 0 for p in profiles.values()):
        raise UsageError(
            "hang faults need a per-attempt timeout: choose a retry policy with one "
            "(e.g. --retry exponential --set retry.timeout=2)"
        )
