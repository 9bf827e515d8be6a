"""``orchbench benchmark``: the original exercise's command and metrics, on the anagram workload.

The anagram workload adds it to the command line (its ``orchbench_commands`` hook): it is ``compare`` over the
original exercise's cases, with its orchestrator (the ``naive`` preset) added for reference.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchbench.cli import common
from orchbench.cli.compare import (
    Baseline,
    Budget,
    Iterations,
    Quiet,
    ResultsDir,
    Strategies,
    Tune,
    TuneBudgetOpt,
    Warmup,
    Wide,
    tune_setting,
    without_success,
)
from orchbench.harness.overwrite import refuse_overwrites
from orchbench.support.console import say
from orchbench.types import RunResult

if TYPE_CHECKING:
    from orchbench import Preset, Workload

ORIGINAL_CASES = ("small", "medium", "large")

# The workload and the original orchestrator the command runs, given by `register`: the anagram workload's package
# imports this module to add the command, and this one does not import the package back.
AnagramWorkload: type[Workload]
NAIVE: Preset


def _median_run(runs: list[RunResult]) -> RunResult:
    """The run whose wall time is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.wall_s)
    return ordered[(len(ordered) - 1) // 2]


@common.with_run_options(only=("scenario", "seed", "reference"), scenario="original")
def benchmark_command(
    case: Annotated[str, typer.Option("--test-case", "-t", help="small, medium, large, or all of them.")] = "all",
    strategies: Strategies = None,
    *,
    opts: common.RunOptions,
    iterations: Iterations = 3,
    warmup: Warmup = 0,
    baseline_strategy: Baseline = None,
    results_dir: ResultsDir = Path("results"),
    wide: Wide = False,
    tune: Tune = False,
    tune_budget: TuneBudgetOpt = None,
    budget: Budget = None,
    quiet: Quiet = False,
) -> int:
    """The original exercise's benchmark: the anagram workload across strategies, with runtime, success rate,
    throughput, peak memory and CPU utilisation — and the statistics of `compare`."""
    from orchbench.python_api import measure, pick_baseline
    from orchbench.results import document as results
    from orchbench.views.report import build_report, render_metrics, render_table

    tuning = tune_setting(tune, tune_budget)
    cases = list(ORIGINAL_CASES) if case == "all" else [case]
    names = common.strategy_names(strategies)
    shown_for_reference = set()
    if strategies is None:
        names.append(NAIVE.name)  # the original exercise's orchestrator, for reference
        shown_for_reference.add(NAIVE.name)  # it is expected to fail (no retries): shown, never the command's verdict
    baseline = pick_baseline(names, baseline_strategy)
    refuse_overwrites({"--results-dir": results.default_path(results_dir, AnagramWorkload.name)}, opts.inputs())
    medians: list[RunResult] = []
    failed: list[str] = []
    for one_case in cases:
        document, interrupted = measure(
            names,
            dataclasses.replace(opts, workload=AnagramWorkload.name, case=one_case),
            iterations,
            warmup,
            baseline,
            quiet,
            {"command": "benchmark"},
            budget=budget,
            tune=tuning,
        )
        path = results.save(results.default_path(results_dir, AnagramWorkload.name), document, exclusive=True)
        if interrupted:
            say(f"orchbench: partial results kept in {path} (marked incomplete)")
            return 130
        render_table(build_report([document], baseline=baseline), wide=wide)
        say(f"results: {path}")
        measured = results.measured_runs(document)
        medians += [_median_run(runs) for runs in measured.values()]
        failed += [f"{label} ({one_case})" for label in without_success(document) if label not in shown_for_reference]
    render_metrics(
        medians, unit=AnagramWorkload.unit, title=f"Benchmark (median of {iterations} runs per strategy and case)"
    )
    for label in failed:
        say(f"orchbench: {label}: no successful run (each one failed, ended incomplete or was wrong)")
    return 1 if failed else 0


def register(app: typer.Typer, workload: type[Workload], naive: Preset) -> None:
    """Add ``benchmark``: ``workload`` over the original cases, with the ``naive`` orchestrator for reference."""
    global AnagramWorkload, NAIVE
    AnagramWorkload, NAIVE = workload, naive
    app.command("benchmark")(benchmark_command)
