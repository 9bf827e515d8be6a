"""A bounded thread pool running the sync task; hung attempts end at the harness's per-attempt deadline."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from typing import Any

from orchbench.api import Option, Strategy
from orchbench.harness.task import Task
from orchbench.hookspecs import hookimpl
from orchbench.types import Outcome

# Threads help only while items wait (sleep, network): the GIL serialises the Python work itself, so the right
# number follows the waiting (Little's law: items in flight = rate x latency), not the core count. 32 is
# CPython's own cap for I/O pools; a thread costs little memory (its stack is touched lazily), but hundreds of
# them fight over the GIL.
DEFAULT_WORKERS = 32
QUEUED_PER_WORKER = 2  # futures queued per thread: enough that no thread waits for the submitting loop


class Threads(Strategy):
    name = "threads"
    description = "a bounded thread pool running the sync task (for waits; the GIL serialises CPU work)"
    options = {
        "workers": Option(int, DEFAULT_WORKERS, "threads", min=1, max=4096),
    }

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(items)
        if not items:
            return []
        workers = min(self.options["workers"], len(items))
        source = enumerate(items)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="orchbench-threads")
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
            # after Ctrl-C or an error: queued items are dropped, running ones end with their current call
            pool.shutdown(wait=clean, cancel_futures=True)
        return results  # type: ignore[return-value]


@hookimpl
def orchbench_strategies() -> list[type[Strategy]]:
    return [Threads]
