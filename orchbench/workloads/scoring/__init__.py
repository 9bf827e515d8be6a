"""The line-scoring workload's plugin: the workload (:mod:`.workload`), its service's client (:mod:`.client`, with
:mod:`.http1` and :mod:`.wire`), its embedded server (:mod:`.server`, :mod:`.app`, :mod:`.model`, :mod:`.process`),
the ``original-design`` preset and the ``serve`` command (:mod:`.serve`). Each part imports only the public kit
and its neighbours here; the server's modules are imported only when a server is started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchbench import Preset, Workload, hookimpl
from orchbench.workloads.scoring.workload import DEFAULT_CONNECTIONS, SCENARIO_HELP, ScoringWorkload

if TYPE_CHECKING:
    import typer

__all__ = ["DEFAULT_CONNECTIONS", "ORIGINAL_DESIGN", "SCENARIO_HELP", "ScoringWorkload"]


@hookimpl
def orchbench_workloads() -> list[type[Workload]]:
    return [ScoringWorkload]


ORIGINAL_DESIGN = Preset(
    "original-design",
    "the original scoring service's design: hybrid, one process per core, "
    "100 concurrent per process, 3 attempts with 2^n s backoff, a per-process cache",
    "hybrid",
    {"retry": "exponential", "retry_options": {"max_attempts": 3, "base": 2.0, "cap": 60.0, "jitter": False}},
    {"concurrency": 100},
    renamed_from=("seed-design",),
)


@hookimpl
def orchbench_presets() -> list[Preset]:
    return [ORIGINAL_DESIGN]


@hookimpl
def orchbench_commands(app: typer.Typer) -> None:
    from orchbench.workloads.scoring.serve import register

    register(app, ScoringWorkload.renamed)
