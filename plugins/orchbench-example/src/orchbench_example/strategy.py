"""``chunked-threads``: the items cut into one contiguous chunk per thread, each chunk run in turn by its thread."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchbench import Option, Outcome, Strategy


class ChunkedThreads(Strategy):
    name = "chunked-threads"
    description = "one contiguous chunk of items per thread, each chunk run in order (task.run_batch)"
    options = {"threads": Option(int, 4, "threads, hence chunks", min=1, max=256, tune=(1, 256))}

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any]:
        return {"threads": n}  # each thread runs one item at a time

    def map(self, task: Any, items: Sequence[Any]) -> list[Outcome]:
        pairs = list(enumerate(items))
        n = min(self.options["threads"], len(pairs)) or 1
        self.in_flight = self.resolved["threads"] = n
        task.declare_in_flight(n)  # so the workload sizes what it holds per process (e.g. connections) for n at once
        size, extra = divmod(len(pairs), n)
        chunks, start = [], 0
        for k in range(n):  # the first `extra` chunks take one item more
            end = start + size + (1 if k < extra else 0)
            chunks.append(pairs[start:end])
            start = end
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="chunk") as pool:
            results = list(pool.map(task.run_batch, chunks))
        return [outcome for chunk in results for outcome in chunk]
