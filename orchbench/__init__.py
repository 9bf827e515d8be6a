"""orchbench: benchmark pipeline orchestration strategies with the same workload, faults and verification.

The public API is what this module exports (``__all__``, documented in docs/plugins.md); nothing else is
promised. From Python, :func:`run` and :func:`compare` do what ``orchbench run`` and ``orchbench compare`` do
(each run a fresh process)::

    comparison = orchbench.compare("anagrams", ["sequential", "asyncio"], iterations=5, case="small")
    comparison.winner, comparison.failed, comparison.save("results.json")

Plugin authors subclass :class:`Strategy`, :class:`Workload` and :class:`RetryPolicy`, or decorate a function
with :func:`workload`, and register them with :data:`hookimpl`. The built-in strategies and workloads import
nothing else of orchbench. Names whose module is heavy to import are loaded on first use (``__getattr__``), so
``import orchbench`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from orchbench.api import MAX_DURATION_S, Option, RetryPolicy, Strategy, Task, TaskProfile, Workload, split_in_flight
from orchbench.errors import AttemptTimeout, TransientError, UsageError
from orchbench.harness.noise import usable_cores
from orchbench.hookspecs import HOOK_API_VERSION, hookimpl
from orchbench.presets import Preset
from orchbench.types import Outcome, RunOptions, RunResult, RunSpec

if TYPE_CHECKING:  # imported lazily at run time (below), visible to type checkers as what they are
    from orchbench.cli import compare_options
    from orchbench.cli.common import with_run_options
    from orchbench.harness.interpreter import command as python_command
    from orchbench.harness.interpreter import environment as python_environment
    from orchbench.harness.noise import machine_noise
    from orchbench.harness.overwrite import refuse_overwrites
    from orchbench.harness.specs import strategy_names
    from orchbench.harness.task import build_task, task_for
    from orchbench.harness.timeaccount import acall_chunk as timed_achunk
    from orchbench.harness.timeaccount import call_chunk as timed_chunk
    from orchbench.harness.timeaccount import received_chunk
    from orchbench.python_api import Comparison, Interrupted, compare, run
    from orchbench.results.document import default_path as default_results_path
    from orchbench.runtime.cache import ResourceCache
    from orchbench.runtime.deadline import remaining as attempt_time_left
    from orchbench.runtime.limiter import AIMDLimiter, AttemptSlots
    from orchbench.runtime.loop import run_loop
    from orchbench.runtime.workers import WorkerThreads
    from orchbench.simple import workload
    from orchbench.support import units
    from orchbench.support.console import make_console, safe_text, say
    from orchbench.support.inputs import read_text as read_input
    from orchbench.support.interrupts import deferred as defer_interrupts
    from orchbench.support.interrupts import release_sigint
    from orchbench.support.interrupts import sigint_held as hold_sigint
    from orchbench.support.renames import current_name
    from orchbench.support.signatures import keyword_option, with_signature
    from orchbench.support.suggest import did_you_mean
    from orchbench.views.table import Column, print_table

# name -> (module, attribute; None: the module itself), imported on first use: `orchbench list` imports the kit
_LAZY: dict[str, tuple[str, str | None]] = {
    "task_for": ("orchbench.harness.task", "task_for"),
    "build_task": ("orchbench.harness.task", "build_task"),
    "workload": ("orchbench.simple", "workload"),
    "run": ("orchbench.python_api", "run"),  # the Python API imports the harness and the commands
    "compare": ("orchbench.python_api", "compare"),
    "Comparison": ("orchbench.python_api", "Comparison"),
    "Interrupted": ("orchbench.python_api", "Interrupted"),
    "run_loop": ("orchbench.runtime.loop", "run_loop"),  # asyncio
    "make_console": ("orchbench.support.console", "make_console"),  # rich, on call
    "refuse_overwrites": ("orchbench.harness.overwrite", "refuse_overwrites"),
    "keyword_option": ("orchbench.support.signatures", "keyword_option"),  # typer
    "with_signature": ("orchbench.support.signatures", "with_signature"),
    "say": ("orchbench.support.console", "say"),
    "safe_text": ("orchbench.support.console", "safe_text"),
    "units": ("orchbench.support.units", None),
    "ResourceCache": ("orchbench.runtime.cache", "ResourceCache"),
    "attempt_time_left": ("orchbench.runtime.deadline", "remaining"),
    "python_command": ("orchbench.harness.interpreter", "command"),
    "python_environment": ("orchbench.harness.interpreter", "environment"),
    "read_input": ("orchbench.support.inputs", "read_text"),
    "machine_noise": ("orchbench.harness.noise", "machine_noise"),
    "current_name": ("orchbench.support.renames", "current_name"),
    "did_you_mean": ("orchbench.support.suggest", "did_you_mean"),
    "AttemptSlots": ("orchbench.runtime.limiter", "AttemptSlots"),
    "AIMDLimiter": ("orchbench.runtime.limiter", "AIMDLimiter"),
    "WorkerThreads": ("orchbench.runtime.workers", "WorkerThreads"),
    "defer_interrupts": ("orchbench.support.interrupts", "deferred"),
    "hold_sigint": ("orchbench.support.interrupts", "sigint_held"),
    "release_sigint": ("orchbench.support.interrupts", "release_sigint"),
    "with_run_options": ("orchbench.cli.common", "with_run_options"),
    "strategy_names": ("orchbench.harness.specs", "strategy_names"),
    "compare_options": ("orchbench.cli.compare_options", None),
    "default_results_path": ("orchbench.results.document", "default_path"),
    "Column": ("orchbench.views.table", "Column"),
    "print_table": ("orchbench.views.table", "print_table"),
    "timed_chunk": ("orchbench.harness.timeaccount", "call_chunk"),
    "timed_achunk": ("orchbench.harness.timeaccount", "acall_chunk"),
    "received_chunk": ("orchbench.harness.timeaccount", "received_chunk"),
}

__all__ = [
    "HOOK_API_VERSION",
    "MAX_DURATION_S",
    "AIMDLimiter",
    "AttemptSlots",
    "AttemptTimeout",
    "Column",
    "Comparison",
    "Interrupted",
    "Option",
    "Outcome",
    "Preset",
    "ResourceCache",
    "RetryPolicy",
    "RunOptions",
    "RunResult",
    "RunSpec",
    "Strategy",
    "Task",
    "TaskProfile",
    "TransientError",
    "UsageError",
    "WorkerThreads",
    "Workload",
    "__version__",
    "attempt_time_left",
    "build_task",
    "compare",
    "compare_options",
    "current_name",
    "default_results_path",
    "defer_interrupts",
    "did_you_mean",
    "hold_sigint",
    "hookimpl",
    "keyword_option",
    "machine_noise",
    "make_console",
    "print_table",
    "python_command",
    "python_environment",
    "read_input",
    "received_chunk",
    "refuse_overwrites",
    "release_sigint",
    "run",
    "run_loop",
    "safe_text",
    "say",
    "split_in_flight",
    "strategy_names",
    "task_for",
    "timed_achunk",
    "timed_chunk",
    "units",
    "usable_cores",
    "with_run_options",
    "with_signature",
    "workload",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'orchbench' has no attribute {name!r}") from None
    found = importlib.import_module(module)
    return found if attribute is None else getattr(found, attribute)
