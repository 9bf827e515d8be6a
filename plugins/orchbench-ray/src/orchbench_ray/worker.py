"""The actors of the pool. Plain classes here: the strategy wraps them with ``ray.remote`` when a run starts.

Each actor rebuilds the run's Task once, in its constructor, from the plain-data RunSpec; calls then carry only
(index, item) pairs. After a crash Ray restarts the actor, and the constructor builds the Task again. Each actor is
one worker (its resource opened on first use, on the actor's event loop for the async actor), closed by
``close``, which the strategy calls before it lets the actors go.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orchbench


def _work_in(cwd: str | None) -> None:
    """Work in the driver's working directory, as a process pool's workers do (relative paths mean the same); it is
    not on the actor's sys.path (see the strategy's ``_init``). Another machine may not have it: the actor stays."""
    if cwd:
        try:
            os.chdir(cwd)
        except OSError:
            pass


class BatchWorker:
    """Runs a batch's items one after another (``Task.run_batch``)."""

    def __init__(self, spec: dict[str, Any], concurrency: int = 1, cwd: str | None = None) -> None:
        _work_in(cwd)
        self.task = orchbench.task_for(spec)
        self.worker = self.task.make_worker()

    def ready(self) -> int:
        """This actor's process id, once its Task is built."""
        return os.getpid()

    def run_batch(self, batch: list[tuple[int, Any]], generation: int) -> tuple[list[orchbench.Outcome], Any]:
        """The batch's outcomes, and what the time account recorded of it (``orchbench.timed_chunk``)."""
        with self.worker.as_current():  # a call may run in a context of its own
            return orchbench.timed_chunk(self.task.run_batch, batch, generation)

    def close(self) -> dict[str, Any]:
        """Close this actor's worker; what it opened and closed (``WorkerCounts.to_dict``)."""
        self.worker.close()
        return self.task.workers.to_dict()


class AsyncBatchWorker:
    """Runs up to ``concurrency`` items of a batch at once on the actor's event loop (``Task.arun``)."""

    def __init__(self, spec: dict[str, Any], concurrency: int = 1, cwd: str | None = None) -> None:
        _work_in(cwd)
        self.task = orchbench.task_for(spec)
        self.concurrency = concurrency
        self.worker = self.task.make_worker(threads=concurrency)  # the actor's loop is the worker

    async def ready(self) -> int:
        return os.getpid()

    async def close(self) -> dict[str, Any]:
        await self.worker.aclose()
        return self.task.workers.to_dict()

    async def run_batch(self, batch: list[tuple[int, Any]], generation: int) -> tuple[list[orchbench.Outcome], Any]:
        """The batch's outcomes, and what the time account recorded of it (``orchbench.timed_achunk``)."""
        with self.worker.as_current():  # each call runs in a context of its own; its tasks inherit this one
            return await orchbench.timed_achunk(self._run, batch, generation)

    async def _run(self, batch: list[tuple[int, Any]], generation: int) -> list[orchbench.Outcome]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int, item: Any) -> orchbench.Outcome:
            async with gate:
                return await self.task.arun(index, item, generation)

        return list(await asyncio.gather(*(one(index, item) for index, item in batch)))
