"""The actors of the pool. Plain classes here: the strategy wraps them with ``ray.remote`` when a run starts.

Each actor rebuilds the run's Task once, in its constructor, from the plain-data RunSpec; calls then carry only
(index, item) pairs. After a crash Ray restarts the actor, and the constructor builds the Task again.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orchbench


class BatchWorker:
    """Runs a batch's items one after another (``Task.run_batch``)."""

    def __init__(self, spec: dict[str, Any], concurrency: int = 1) -> None:
        self.task = orchbench.task_for(spec)

    def ready(self) -> int:
        """This actor's process id, once its Task is built."""
        return os.getpid()

    def run_batch(self, batch: list[tuple[int, Any]], generation: int) -> list[orchbench.Outcome]:
        return self.task.run_batch(batch, generation)


class AsyncBatchWorker:
    """Runs up to ``concurrency`` items of a batch at once on the actor's event loop (``Task.arun``)."""

    def __init__(self, spec: dict[str, Any], concurrency: int = 1) -> None:
        self.task = orchbench.task_for(spec)
        self.concurrency = concurrency

    async def ready(self) -> int:
        return os.getpid()

    async def run_batch(self, batch: list[tuple[int, Any]], generation: int) -> list[orchbench.Outcome]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int, item: Any) -> orchbench.Outcome:
            async with gate:
                return await self.task.arun(index, item, generation)

        return list(await asyncio.gather(*(one(index, item) for index, item in batch)))
