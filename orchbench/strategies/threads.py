"""A bounded thread pool running the sync task; hung attempts end at the harness's per-attempt deadline."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from orchbench import Option, Outcome, Strategy, Task, hookimpl

if TYPE_CHECKING:
    from concurrent.futures import Future

# Threads help only while items wait (sleep, network): the GIL serialises the Python work itself, so the right
# number follows the waiting (Little's law: items in flight = rate x latency), not the core count. When the
# workload says nothing of its items, 32 (CPython's own cap for I/O pools). A thread costs little memory (its
# stack is touched lazily), but thousands of them spend their time handing the GIL around.
DEFAULT_WORKERS = 32
MAX_DEFAULT_WORKERS = 1024
QUEUED_PER_WORKER = 2  # futures queued per thread: enough that no thread waits for the submitting loop


def default_workers(task: Task, n: int) -> int:
    """For items that mostly wait, one thread per item worth having in flight (e.g. a server's capacity), up to
    ``MAX_DEFAULT_WORKERS``; otherwise ``DEFAULT_WORKERS``."""
    if not task.mostly_waits:
        return task.bounded(DEFAULT_WORKERS)
    return min(MAX_DEFAULT_WORKERS, task.useful_in_flight(n))


class Threads(Strategy):
    name = "threads"
    description = "a bounded thread pool running the sync task (for waits; the GIL serialises CPU work)"
    options = {
        "workers": Option(
            int,
            None,
            "threads (default: for items that mostly wait, the items worth having in "
            f"flight, up to {MAX_DEFAULT_WORKERS}; else {DEFAULT_WORKERS})",
            min=1,
            max=4096,
            tune=(1, 2048),
        ),
    }

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any]:
        return {"workers": n}

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        from concurrent.futures import FIRST_COMPLETED, wait  # here: listing the strategies needs no executor

        from orchbench import WorkerThreads

        results: list[Outcome | None] = [None] * len(items)
        if not items:
            return []
        workers = min(self.options["workers"] or default_workers(task, len(items)), len(items))
        self.resolved["workers"] = workers
        self.in_flight = task.bounded(workers)  # more threads than the capacity wait at its gate
        task.declare_in_flight(workers)
        source = enumerate(items)
        pool = WorkerThreads(task.workload, task.workers, workers)  # each thread a worker with its own resource
        clean = False
        try:
            inflight: set[Future] = set()
            room = QUEUED_PER_WORKER * workers
            while True:
                inflight |= {pool.submit(task.run, i, item) for i, item in islice(source, room)}
                if not inflight:
                    break
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    results[outcome.index] = outcome
                room = len(done)
            clean = True
        finally:
            # after Ctrl-C or an error: queued items are dropped, running ones end with their current call; every
            # thread closes its resource
            pool.close(cancel=not clean)
        return results  # type: ignore[return-value]


@hookimpl
def orchbench_strategies() -> list[type[Strategy]]:
    return [Threads]
