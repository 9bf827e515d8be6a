"""A process pool: chunks of items sent to worker processes that each built the Task once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from orchbench import Option, Outcome, Strategy, Task, hookimpl, usable_cores
from orchbench.strategies import pool

CHUNKS_PER_WORKER = 8  # enough for the last chunks to balance across workers, few enough to amortise IPC
MAX_CHUNK = 512  # bounds one message's size and the work a crash throws away
WAITING_WORKERS_PER_CPU = 4  # a worker runs one item at a time: when items wait, more workers overlap the waits


def default_workers(task: Task, n: int) -> int:
    """One worker per core for CPU work; for waiting work up to ``WAITING_WORKERS_PER_CPU`` per core, no more
    than the items worth having in flight."""
    cores = usable_cores()
    if not task.mostly_waits:
        return task.bounded(cores)
    return task.bounded(max(cores, min(WAITING_WORKERS_PER_CPU * cores, task.useful_in_flight(n))))


class Processes(pool.PooledStrategy):
    name = "processes"
    description = (
        "a process pool (forkserver): chunks of items, the task built once per worker, "
        "a bounded window of chunks in flight, rebuilt after a worker crash"
    )
    options = {
        "workers": Option(
            int,
            None,
            "worker processes (default: the CPU count; for items that mostly wait, up to "
            f"{WAITING_WORKERS_PER_CPU} per CPU)",
            min=1,
            max=1024,
            tune=(1, 256),
        ),
        "chunk": Option(
            int,
            None,
            f"items per batch (default: about {CHUNKS_PER_WORKER} batches per worker, at most {MAX_CHUNK})",
            min=1,
            max=1_000_000,
        ),
        "restarts": pool.PooledStrategy.RESTARTS,
    }

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any]:
        return {"workers": n}  # a worker runs one item at a time

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        workers = self.options["workers"] or default_workers(task, len(items))
        chunk = self.options["chunk"] or pool.adaptive_chunk(len(items), workers, CHUNKS_PER_WORKER, 1, MAX_CHUNK)
        self.resolved.update(workers=workers, chunk=chunk)
        self.in_flight = task.bounded(min(workers, math.ceil(len(items) / chunk)))
        spec = task.declare_in_flight(1)  # a worker runs its items in turn
        supervisor = pool.Supervisor(
            spec.to_dict(),
            pool.run_batch,
            workers=workers,
            restarts=self.options["restarts"],
            preload=task.worker_preload(),
            capacity=task.capacity,
            timeout_s=task.timeout_s,
        )
        return self.supervise(task, supervisor, items, chunk)


@hookimpl
def orchbench_strategies() -> list[type[Strategy]]:
    return [Processes]
