"""``orchbench benchmark``: the original exercise's command and metrics, on the anagram workload.

The anagram workload adds it to the command line (its ``orchbench_commands`` hook): it is ``compare`` over the
original exercise's cases, with its orchestrator (the ``naive`` preset) added for reference. Like any plugin's
command, it is written against orchbench's public kit: the run and compare options, ``orchbench.compare``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import orchbench
from orchbench import RunOptions, RunResult, compare_options, refuse_overwrites, say, with_run_options

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


@with_run_options(only=("scenario", "seed", "reference"), scenario="original")
def benchmark_command(
    case: Annotated[str, typer.Option("--test-case", "-t", help="small, medium, large, or all of them.")] = "all",
    strategies: compare_options.Strategies = None,
    *,
    opts: RunOptions,
    iterations: compare_options.Iterations = 3,
    warmup: compare_options.Warmup = 0,
    baseline_strategy: compare_options.Baseline = None,
    results_dir: compare_options.ResultsDir = Path("results"),
    wide: compare_options.Wide = False,
    tune: compare_options.Tune = False,
    tune_budget: compare_options.TuneBudgetOpt = None,
    budget: compare_options.Budget = None,
    quiet: compare_options.Quiet = False,
) -> int:
    """The original exercise's benchmark: the anagram workload across strategies, with runtime, success rate,
    throughput, peak memory and CPU utilisation — and the statistics of `compare`."""
    from orchbench.workloads.anagrams.metrics import render_metrics

    tuning = compare_options.tune_setting(tune, tune_budget)
    cases = list(ORIGINAL_CASES) if case == "all" else [case]
    names = orchbench.strategy_names(strategies)
    shown_for_reference = set()
    if strategies is None:
        names.append(NAIVE.name)  # the original exercise's orchestrator, for reference
        shown_for_reference.add(NAIVE.name)  # it is expected to fail (no retries): shown, never the command's verdict

    def results_file() -> Path:  # where compare would save this workload's comparison now
        return orchbench.default_results_path(results_dir, AnagramWorkload.name)

    refuse_overwrites({"--results-dir": results_file()}, opts.inputs())
    medians: list[RunResult] = []
    failed: list[str] = []
    for one_case in cases:
        try:
            comparison = orchbench.compare(
                strategies=names,
                iterations=iterations,
                warmup=warmup,
                baseline=baseline_strategy,
                budget=budget,
                tune=tuning,
                progress=not quiet,
                run_options=dataclasses.replace(opts, workload=AnagramWorkload.name, case=one_case),
                settings={"command": "benchmark"},
            )
        except orchbench.Interrupted as stop:
            path = stop.comparison.save(results_file(), exclusive=True)
            say(f"orchbench: partial results kept in {path} (marked incomplete)")
            return 130
        path = comparison.save(results_file(), exclusive=True)
        comparison.render(wide=wide)
        say(f"results: {path}")
        medians += [_median_run(runs) for runs in comparison.runs.values()]
        failed += [f"{label} ({one_case})" for label in comparison.unsuccessful if label not in shown_for_reference]
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
