"""A comparison session: planned runs (warm-ups, then interleaved rounds), each in a fresh child process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchbench.harness.isolate import run_isolated
from orchbench.harness.planner import PlannedRun, plan
from orchbench.types import RunResult, RunSpec

Progress = Callable[[int, int, PlannedRun, RunResult], None]


@dataclass
class Session:
    """The outcome of running a plan: (planned, result) pairs in execution order; ``interrupted`` when cut short."""

    order: list[PlannedRun]
    runs: list[tuple[PlannedRun, RunResult]] = field(default_factory=list)
    interrupted: bool = False


def run_session(
    specs: list[tuple[str, RunSpec]], iterations: int, warmup: int, progress: Progress | None = None, **isolate: Any
) -> Session:
    """Run every planned slot; Ctrl-C stops between or during runs and keeps what finished."""
    by_label = dict(specs)
    session = Session(plan(list(by_label), iterations, warmup))
    try:
        for n, slot in enumerate(session.order, 1):
            result = run_isolated(by_label[slot.strategy], **isolate)
            result.label = slot.strategy
            session.runs.append((slot, result))
            if progress is not None:
                progress(n, len(session.order), slot, result)
    except KeyboardInterrupt:
        session.interrupted = True
    return session
