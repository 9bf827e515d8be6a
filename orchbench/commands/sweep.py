"""``orchbench sweep``: measure strategies at each value of one option and draw the scaling curve."""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.commands import common
from orchbench.commands.compare import (
    Iterations,
    Quiet,
    ResultsDir,
    Strategies,
    Warmup,
    measure,
    pick_baseline,
)
from orchbench.console import say
from orchbench.errors import UsageError

SPEC_OVERRIDES = ("fault_rate", "hang_rate", "crash_rate", "latency_scale", "cpu_ms", "seed")


def _sweep_values(over: str) -> tuple[str, list[str]]:
    key, sep, values = over.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not items:
        raise UsageError(f"--over {over!r}: expected KEY=V1,V2,… (e.g. concurrency=1,4,16,64)")
    return key.strip(), items


@common.with_run_options(only=("workload", "case", "input_path", "scenario", "seed", "retry", "sets", "reference"))
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


def _print_sweep(key: str, values: list[str], points: list, console: Any = None) -> None:
    """The median wall per strategy (rows) and value (columns), fitted to the console; ✗ marks a point with a run
    that was not ok."""
    from rich.text import Text

    from orchbench.console import make_console, safe_text
    from orchbench.terminal_table import Column, print_table

    names = list(dict.fromkeys(p.strategy for p in points))
    cols = [Column("strategy", [safe_text(n) for n in names], numeric=False)]
    for value in values:
        cells = []
        for name in names:
            p = next((p for p in points if p.strategy == name and p.value == float(value)), None)
            cells.append("—" if p is None else f"{p.median_wall_s:.3f}" + ("" if p.ok else " ✗"))
        cols.append(Column(safe_text(f"{key}={value}"), cells))
    print_table(console or make_console(), cols, Text(safe_text(f"median wall time [s] by {key}")))


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_command)
