"""One event loop, a bounded pool of coroutines awaiting ``task.arun``, under structured cancellation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from orchbench import Option, Outcome, Strategy, Task, hookimpl

if TYPE_CHECKING:
    from orchbench import AIMDLimiter, AttemptSlots

DEFAULT_CONCURRENCY = 256  # when the workload says nothing of its items (one event loop: CPU work runs in turn)
ITEMS_PER_SLOT = 2  # items under way per attempt slot: the others wait out a backoff without holding one
ADAPTIVE_HELP = (
    "adapt the attempts in flight to the service (AIMD: grow while latency holds, cut on 429/503 or "
    "rising latency), between 1 and concurrency"
)


async def run_bounded(
    task: Task, pairs: Iterable[tuple[int, Any]], generation: int, concurrency: int, limiter: AttemptSlots | None = None
) -> list[Outcome]:
    """Run every (index, item) with at most ``concurrency`` attempts in flight (or under ``limiter``, an adaptive
    limit with ``concurrency`` as its ceiling); outcomes in completion order.

    The bound is on attempts, not items: an item waiting out a backoff or a ``Retry-After`` holds no slot, so
    another item's attempt takes it. Up to ``ITEMS_PER_SLOT`` × ``concurrency`` items are under way at once,
    pulled by as many coroutines from one shared iterator, so live tasks stay bounded however many items
    there are. They run in a TaskGroup: an unexpected error, or cancellation (Ctrl-C), cancels all of them.
    """
    import asyncio  # here, not at the top: listing the strategies needs no event loop

    from orchbench import AttemptSlots

    slots = limiter if limiter is not None else AttemptSlots(concurrency)
    source = iter(pairs)
    outcomes: list[Outcome] = []
    parent = asyncio.current_task()

    async def worker() -> None:
        for index, item in source:  # next() is atomic between awaits: each pair goes to exactly one worker
            # Once the run is being cancelled (Ctrl-C cancels the main task) start no further item: the main
            # task, which would cancel this one, may be queued behind every coroutine's next item.
            if parent is not None and parent.cancelling():
                raise asyncio.CancelledError
            outcomes.append(await task.arun(index, item, generation, slots))
            await asyncio.sleep(0)  # an item that never waits (pure CPU) must still let the others run

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(ITEMS_PER_SLOT * concurrency):
                group.create_task(worker())
    except ExceptionGroup as errors:  # one error (the usual case) is reported as itself, not as a group
        if len(errors.exceptions) == 1:
            raise errors.exceptions[0] from None
        raise
    return outcomes


async def run_as_worker(
    task: Task, pairs: Iterable[tuple[int, Any]], generation: int, concurrency: int, limiter: AttemptSlots | None = None
) -> list[Outcome]:
    """:func:`run_bounded` with the running loop as one worker: its resource opened on this loop, and its sync
    calls in up to ``concurrency`` worker threads; all closed when the items are done, or the run fails."""
    async with task.async_worker(threads=concurrency):
        return await run_bounded(task, pairs, generation, concurrency, limiter)


def default_concurrency(task: Task, n: int) -> int:
    """For items that mostly wait, the items worth having in flight (e.g. a server's capacity); for sync calls,
    which run in a thread each, as many as the threads strategy would start; otherwise ``DEFAULT_CONCURRENCY``
    (never above the workload's capacity)."""
    if task.mostly_waits:
        return task.useful_in_flight(n)
    if task.workload.sync_calls:
        from orchbench.strategies.threads import default_workers

        return default_workers(task, n)
    return task.bounded(DEFAULT_CONCURRENCY)


class Asyncio(Strategy):
    name = "asyncio"
    description = "one event loop, a bounded pool of coroutines awaiting the async task (no thread per item)"
    options = {
        "concurrency": Option(
            int,
            None,
            "attempts in flight at once (with adaptive: the ceiling); an item waiting "
            "to retry holds no slot (default: for items that mostly wait, the items worth having "
            f"in flight, else {DEFAULT_CONCURRENCY})",
            min=1,
            max=1_000_000,
            tune=(1, 16384),
        ),
        "adaptive": Option(bool, False, ADAPTIVE_HELP),
    }

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any]:
        return {"concurrency": n}

    limiter: AIMDLimiter | None = None  # the adaptive limit of the last map

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        concurrency = min(self.options["concurrency"] or default_concurrency(task, len(items)), len(items))
        self.resolved["concurrency"] = concurrency
        self.in_flight = task.bounded(concurrency)  # the true figure: a sync call has a thread of its own
        task.declare_in_flight(max(1, concurrency))
        if self.options["adaptive"]:
            from orchbench import AIMDLimiter

            self.limiter = AIMDLimiter(max(1, concurrency), transient=tuple(task.workload.transient_errors))
        results: list[Outcome | None] = [None] * len(items)
        if items:
            from orchbench import run_loop

            for outcome in run_loop(run_as_worker(task, enumerate(items), 0, concurrency, self.limiter)):
                results[outcome.index] = outcome
        return results  # type: ignore[return-value]

    def stats(self) -> dict[str, Any]:
        return {"limiter": self.limiter.summary()} if self.limiter is not None else {}


@hookimpl
def orchbench_strategies() -> list[type[Strategy]]:
    return [Asyncio]
