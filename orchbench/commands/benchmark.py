"""``orchbench benchmark`` (the original exercise's command and metrics) and ``orchbench sweep`` (a scaling curve)."""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Annotated

import typer

from orchbench.atomic import check_target
from orchbench.commands import common
from orchbench.commands.compare import (
    DEFAULT_TUNE_BUDGET,
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
    measure,
    pick_baseline,
    without_success,
)
from orchbench.console import say
from orchbench.errors import UsageError
from orchbench.types import RunResult

ORIGINAL_CASES = ("small", "medium", "large")
SPEC_OVERRIDES = ("fault_rate", "hang_rate", "crash_rate", "latency_scale", "cpu_ms", "seed")


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
    tune_budget: TuneBudgetOpt = DEFAULT_TUNE_BUDGET,
    budget: Budget = None,
    quiet: Quiet = False,
) -> int:
    """The original exercise's benchmark: the anagram workload across strategies, with runtime, success rate,
    throughput, peak memory and CPU utilisation — and the statistics of `compare`."""
    from orchbench import results
    from orchbench.report import build_report, render_metrics, render_table

    cases = list(ORIGINAL_CASES) if case == "all" else [case]
    names = common.strategy_names(strategies)
    shown_for_reference = set()
    if strategies is None:
        names.append("naive")  # the original exercise's orchestrator, for reference
        shown_for_reference.add("naive")  # it is expected to fail (no retries): shown, never the command's verdict
    baseline = pick_baseline(names, baseline_strategy)
    check_target(results.default_path(results_dir, "anagrams"))  # before the first run
    medians: list[RunResult] = []
    failed: list[str] = []
    for one_case in cases:
        document, interrupted = measure(
            names,
            dataclasses.replace(opts, case=one_case),
            iterations,
            warmup,
            baseline,
            quiet,
            {"command": "benchmark"},
            budget=budget,
            tune=tune_budget if tune else None,
        )
        path = results.save(results.default_path(results_dir, "anagrams"), document, exclusive=True)
        if interrupted:
            say(f"orchbench: partial results kept in {path} (marked incomplete)")
            return 130
        render_table(build_report([document], baseline=baseline), wide=wide)
        say(f"results: {path}")
        measured = results.measured_runs(document)
        medians += [_median_run(runs) for runs in measured.values()]
        failed += [f"{label} ({one_case})" for label in without_success(document) if label not in shown_for_reference]
    render_metrics(medians, unit="words", title=f"Benchmark (median of {iterations} runs per strategy and case)")
    for label in failed:
        say(f"orchbench: {label}: no successful run (each one failed, ended incomplete or was wrong)")
    return 1 if failed else 0


def _sweep_values(over: str) -> tuple[str, list[str]]:
    key, sep, values = over.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not items:
        raise UsageError(f"--over {over!r}: expected KEY=V1,V2,… (e.g. concurrency=1,4,16,64)")
    return key.strip(), items


@common.with_run_options(
    only=("workload", "case", "input_path", "scenario", "seed", "retry", "sets", "url", "reference")
)
def sweep_command(
    over: Annotated[
        str,
        typer.Option(
            "--over",
            help="The option and its values, e.g. concurrency=1,4,16,64 or "
            "fault_rate=0,0.1,0.3 (any --set key, or a fault/latency override).",
        ),
    ],
    strategies: Strategies = None,
    *,
    opts: common.RunOptions,
    iterations: Iterations = 3,
    warmup: Warmup = 0,
    results_dir: ResultsDir = Path("results"),
    quiet: Quiet = False,
) -> int:
    """Measure strategies at each value of one option and draw the scaling curve: where does each saturate?"""
    from orchbench import results
    from orchbench.plots import SweepPoint, plot_sweep

    key, values = _sweep_values(over)
    names = common.strategy_names(strategies)
    opts.read_input_once()  # once for every point of the sweep (standard input can be read only once)
    points: list[SweepPoint] = []
    for value in values:
        point = dataclasses.replace(opts, sets=list(opts.sets))
        bare = key.replace("-", "_")
        if bare in SPEC_OVERRIDES:
            try:
                setattr(point, bare, int(value) if bare == "seed" else float(value))
            except ValueError:
                raise UsageError(f"--over {over!r}: {value!r} is not a number") from None
        else:
            point.sets.append(f"{key}={value}")
        document, interrupted = measure(
            names,
            point,
            iterations,
            warmup,
            pick_baseline(names, None),
            quiet,
            {"command": "sweep", "over": key, "value": value},
        )
        results.save(results.default_path(results_dir, opts.workload), document, exclusive=True)
        if interrupted:
            say(f"orchbench: the sweep's finished points are saved in {results_dir}/")
            return 130
        for name, runs in results.measured_runs(document).items():
            timed = [r for r in runs if r.timed]
            if timed:
                points.append(
                    SweepPoint(
                        name,
                        float(value),
                        statistics.median(r.wall_s for r in timed),
                        statistics.median(r.throughput for r in timed),
                        all(r.ok for r in runs),
                    )
                )
    _print_sweep(key, values, points)
    out = results_dir / f"sweep-{opts.workload}-{key}.png"
    plot_sweep(points, out, option=key, unit=document["settings"]["unit"])
    say(f"plot: {out}")
    return 0


def _print_sweep(key: str, values: list[str], points: list) -> None:
    from rich.table import Table

    from orchbench.console import make_console

    table = Table(title=f"median wall time [s] by {key}", title_justify="left")
    table.add_column("strategy")
    for value in values:
        table.add_column(f"{key}={value}", justify="right")
    for name in dict.fromkeys(p.strategy for p in points):
        cells = {p.value: p for p in points if p.strategy == name}
        row = []
        for value in values:
            p = cells.get(float(value))
            row.append("—" if p is None else f"{p.median_wall_s:.3f}" + ("" if p.ok else " ✗"))
        table.add_row(name, *row)
    make_console().print(table)


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
    app.command("sweep")(sweep_command)
