"""orchbench-example: one strategy (``chunked-threads``) and one workload (``wordlen``), the template to copy.

orchbench loads this module through the ``orchbench`` entry point in ``pyproject.toml`` and calls its hooks.
"""

from __future__ import annotations

__version__ = "0.1.0"

import orchbench
from orchbench_example.strategy import ChunkedThreads
from orchbench_example.workload import WordLengths


@orchbench.hookimpl
def orchbench_strategies() -> list[type[orchbench.Strategy]]:
    return [ChunkedThreads]


@orchbench.hookimpl
def orchbench_workloads() -> list[type[orchbench.Workload]]:
    return [WordLengths]
