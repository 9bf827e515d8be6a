"""Worker processes, each running an event loop with bounded concurrency over its chunk (the original scoring
service's design).

Robust where the original's was not: chunks are smaller than one per core so a slow chunk cannot leave cores idle,
a crashed worker's unfinished items are resubmitted (never counted as zero), and Ctrl-C stops every worker.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchbench import Option, Outcome, Strategy, Task, hookimpl, split_in_flight, usable_cores
from orchbench.strategies import pool
from orchbench.strategies.asyncio_strategy import ADAPTIVE_HELP, run_bounded

if TYPE_CHECKING:
    from orchbench import AIMDLimiter

DEFAULT_CONCURRENCY = 64
CHUNKS_PER_WORKER = 4
MAX_CHUNK = 4096
MAX_WAITING_CHUNK = 16384  # bounds one message's size and the work a crash throws away


_limiter: AIMDLimiter | None = None  # this worker's adaptive limit, kept across its chunks


class ChunkOutcomes(list):
    """A chunk's outcomes, with the worker's adaptive-limit summary attached (it travels with the pickle)."""

    limiter: dict[str, Any] | None = None
    pid: int = 0


def run_chunk(pairs: pool.Chunk, generation: int, concurrency: int, adaptive: bool = False) -> list[Outcome]:
    """Chunk function: :func:`run_chunk_here`, closing the worker's resource if the pool stops it meanwhile."""
    return pool.in_chunk(run_chunk_here, pairs, generation, concurrency, adaptive)


def run_chunk_here(pairs: pool.Chunk, generation: int, concurrency: int, adaptive: bool = False) -> list[Outcome]:
    """Chunk function: the chunk on this worker process's event loop (one for the process's life, so resources
    bound to it last from chunk to chunk), ``concurrency`` attempts in flight (with ``adaptive``, under this
    worker's AIMD limit instead, which persists from chunk to chunk too)."""
    global _limiter
    task, worker = pool.worker_task(), pool.worker()
    worker.threads = concurrency  # sync calls from the loop: a worker thread each
    if not adaptive:
        return worker.run(run_bounded(task, pairs, generation, min(concurrency, len(pairs))), timed=False)
    if _limiter is None:
        from orchbench import AIMDLimiter

        _limiter = AIMDLimiter(concurrency, transient=tuple(task.workload.transient_errors))
    out = ChunkOutcomes(
        worker.run(run_bounded(task, pairs, generation, min(concurrency, len(pairs)), _limiter), timed=False)
    )
    out.limiter, out.pid = _limiter.summary(), os.getpid()
    return out


def default_concurrency(task: Task, n: int, workers: int) -> int:
    """Attempts in flight per worker: for items that mostly wait, the pool's share of the items worth having in
    flight (a server's capacity, or every item); for a sync call that computes, 1 (a thread more would only wait
    for the GIL); for other CPU work, ``DEFAULT_CONCURRENCY``. Never above the worker's share of the capacity."""
    if task.mostly_waits:
        share = math.ceil(task.useful_in_flight(n) / workers)
    elif task.workload.sync_calls:
        share = 1
    else:
        share = DEFAULT_CONCURRENCY
    if task.capacity:
        share = min(share, math.ceil(task.capacity / workers))
    return max(1, share)


def default_chunk(n: int, workers: int, concurrency: int, waits: bool = False) -> int:
    """Items per chunk when not given.

    A chunk is one event loop's work, and a loop can keep ``concurrency`` items in flight only when its chunk
    holds that many; yet one chunk per worker (the original design) leaves a core idle as soon as its chunk
    is done while another's is not. So: about ``CHUNKS_PER_WORKER`` chunks per worker, but never fewer items
    than fill the loop (unless the items are too few to give every worker that many).

    When items mostly wait (``waits``) the balance is the other way round: the end of every chunk is a barrier
    where the worker's loop drains down to its slowest answer with few items in flight, while cores cost little.
    Then one chunk per worker, up to ``MAX_WAITING_CHUNK`` items.

    Either way the size is then evened out (:func:`pool.even_chunk`): as many chunks as a multiple of the workers,
    all of one size, so that no worker is handed a chunk more than another (300 items in chunks of 64 gave one
    worker 192 items and the other 108).
    """
    per_worker = math.ceil(n / workers)
    if waits:
        return pool.even_chunk(n, max(1, min(MAX_WAITING_CHUNK, per_worker)), workers)
    balanced = math.ceil(n / (workers * CHUNKS_PER_WORKER))
    return pool.even_chunk(n, max(1, min(MAX_CHUNK, max(balanced, min(concurrency, per_worker)))), workers)


class Hybrid(pool.PooledStrategy):
    name = "hybrid"
    description = (
        "worker processes, each an event loop with bounded concurrency over its chunk "
        "(the original scoring service's map-reduce), rebuilt after a worker crash"
    )
    options = {
        # concurrency first: the tuner searches the knobs in this order
        "concurrency": Option(
            int,
            None,
            "attempts in flight per worker (default: for items that mostly wait, the "
            "worker's share of what the workload can take at once, else "
            f"{DEFAULT_CONCURRENCY})",
            min=1,
            max=1_000_000,
            tune=(1, 16384),
        ),
        "workers": Option(int, None, "worker processes (default: the CPU count)", min=1, max=1024, tune=(1, 64)),
        "chunk": Option(
            int,
            None,
            f"items per batch (default: about {CHUNKS_PER_WORKER} batches per worker, "
            "each at least concurrency items; one per worker for items that mostly wait)",
            min=1,
            max=1_000_000,
        ),
        "restarts": pool.PooledStrategy.RESTARTS,
        "adaptive": Option(bool, False, ADAPTIVE_HELP.replace("concurrency", "concurrency, per worker")),
    }

    limiters: dict[int, dict[str, Any]] = {}  # per worker pid: the last summary of its adaptive limit

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any]:
        workers, concurrency = split_in_flight(n, cores)
        return {"workers": workers, "concurrency": concurrency}

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        workers = self.options["workers"] or task.bounded(usable_cores())
        concurrency = self.options["concurrency"] or default_concurrency(task, len(items), workers)
        chunk = self.options["chunk"] or default_chunk(len(items), workers, concurrency, task.mostly_waits)
        self.resolved.update(workers=workers, concurrency=concurrency, chunk=chunk)
        self.in_flight = task.bounded(
            min(len(items), min(workers, math.ceil(len(items) / chunk)) * min(concurrency, chunk))
        )
        adaptive = self.options["adaptive"]
        self.limiters = {}
        spec = task.declare_in_flight(min(concurrency, chunk))  # a worker's loop never holds more than its chunk
        supervisor = pool.Supervisor(
            spec.to_dict(),
            run_chunk,
            (concurrency, adaptive),
            workers=workers,
            restarts=self.options["restarts"],
            preload=task.worker_preload(),
            on_chunk=self._note if adaptive else None,
            capacity=task.capacity,
            timeout_s=task.timeout_s,
        )
        return self.supervise(task, supervisor, items, chunk)

    def _note(self, outcomes: list[Outcome]) -> None:
        summary = getattr(outcomes, "limiter", None)
        if summary is not None:
            self.limiters[outcomes.pid] = summary  # type: ignore[attr-defined]

    def stats(self) -> dict[str, Any]:
        stats = super().stats()
        if not self.limiters:
            return stats
        workers = list(self.limiters.values())
        return {
            **stats,
            "limiter": {
                "workers": len(workers),
                "start": sum(w["start"] for w in workers),
                "final": sum(w["final"] for w in workers),
                "max": sum(w["max"] for w in workers),
                "decreases": sum(w["decreases"] for w in workers),
                "per_worker": workers,
            },
        }


@hookimpl
def orchbench_strategies() -> list[type[Strategy]]:
    return [Hybrid]
