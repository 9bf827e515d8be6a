"""orchbench: benchmark pipeline orchestration strategies with the same workload, faults and verification.

The public API is what this module exports; nothing else is promised. From Python, :func:`run` and
:func:`compare` do what ``orchbench run`` and ``orchbench compare`` do (each run a fresh process)::

    comparison = orchbench.compare("anagrams", ["sequential", "asyncio"], iterations=5, case="small")
    comparison.winner, comparison.failed, comparison.save("results.json")

Plugin authors subclass :class:`Strategy`, :class:`Workload` and :class:`RetryPolicy`, or decorate a function
with :func:`workload`, and register them with :data:`hookimpl`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from orchbench.api import Option, RetryPolicy, Strategy, Task, TaskProfile, Workload, split_in_flight
from orchbench.errors import TransientError, UsageError
from orchbench.hookspecs import HOOK_API_VERSION, hookimpl
from orchbench.noise import usable_cores
from orchbench.presets import Preset
from orchbench.types import Outcome, RunResult, RunSpec

if TYPE_CHECKING:  # imported lazily at run time (below), visible to type checkers as what they are
    from orchbench.harness.task import build_task, task_for
    from orchbench.python_api import Comparison, Interrupted, compare, run
    from orchbench.simple import workload

__all__ = [
    "HOOK_API_VERSION",
    "Comparison",
    "Interrupted",
    "Option",
    "Outcome",
    "Preset",
    "RetryPolicy",
    "RunResult",
    "RunSpec",
    "Strategy",
    "Task",
    "TaskProfile",
    "TransientError",
    "UsageError",
    "Workload",
    "__version__",
    "build_task",
    "compare",
    "hookimpl",
    "run",
    "split_in_flight",
    "task_for",
    "usable_cores",
    "workload",
]


def __getattr__(name: str) -> Any:  # the harness is imported on first use, to keep start-up light
    if name in ("task_for", "build_task"):
        from orchbench.harness import task

        return getattr(task, name)
    if name == "workload":
        from orchbench.simple import workload

        return workload
    if name in ("run", "compare", "Comparison", "Interrupted"):  # they import the harness and the commands
        from orchbench import python_api

        return getattr(python_api, name)
    raise AttributeError(f"module 'orchbench' has no attribute {name!r}")
