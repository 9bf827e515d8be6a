"""orchbench-example: one strategy (``chunked-threads``), one workload (``wordlen``) and one command
(``orchbench wordlen``), the template to copy.

orchbench loads this module through the ``orchbench`` entry point in ``pyproject.toml`` and calls its hooks.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

import orchbench
from orchbench_example.strategy import ChunkedThreads
from orchbench_example.workload import WordLengths

if TYPE_CHECKING:
    import typer


@orchbench.hookimpl
def orchbench_strategies() -> list[type[orchbench.Strategy]]:
    return [ChunkedThreads]


@orchbench.hookimpl
def orchbench_workloads() -> list[type[orchbench.Workload]]:
    return [WordLengths]


@orchbench.hookimpl
def orchbench_commands(app: typer.Typer) -> None:
    from orchbench_example.commands import register  # imported only by the command line

    register(app)
