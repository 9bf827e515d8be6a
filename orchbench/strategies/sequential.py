"""The baseline: every item in turn, in the run's own process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchbench import Outcome, Strategy, Task, hookimpl


class Sequential(Strategy):
    name = "sequential"
    description = "one item after another in one thread: the baseline"

    in_flight = 1

    def map(self, task: Task, items: Sequence[Any]) -> list[Outcome]:
        task.declare_in_flight(1)
        with task.worker():
            return [task.run(index, item) for index, item in enumerate(items)]


@hookimpl
def orchbench_strategies() -> list[type[Strategy]]:
    return [Sequential]
