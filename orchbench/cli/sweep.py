"""``orchbench sweep``: measure strategies at each value of one option and draw the scaling curve."""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.cli import common
from orchbench.cli.compare import (
    Iterations,
    Quiet,
    ResultsDir,
    Strategies,
    Warmup,
)
from orchbench.errors import UsageError
from orchbench.harness import specs as run_specs
from orchbench.harness.overwrite import refuse_overwrites
from orchbench.support.console import say

# Run options `--over` may vary besides any --set key (by their [tool.orchbench] key or field name).
SWEPT_RUN_OPTIONS = ("seed", "fault_rate", "hang_rate", "crash_rate", "latency_scale", "cpu_ms", "retry", "scenario")


def _sweep_values(over: str) -> tuple[str, list[str]]:
    key, sep, values = over.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not items:
        raise UsageError(f"--over {over!r}: expected KEY=V1,V2,… (e.g. concurrency=1,4,16,64)")
    if len(set(items)) < len(items):
        raise UsageError(f"--over {over!r}: a value is given twice")
    return key.strip(), items


def _run_option(key: str) -> str | None:
    """The run option ``--over`` names (``fault-rate``, ``fault_rate``), or None for a --set key."""
    from orchbench.types import RUN_OPTIONS

    return next((n for n in SWEPT_RUN_OPTIONS if key in (n, RUN_OPTIONS[n].key)), None)


def sweep_points(names: list[str], opts: common.RunOptions, key: str, values: list[str]) -> list[Point]:
    """Every point of the sweep, each checked as its comparison would be (one line naming the value that does
    not fit), with its value parsed by the option's declared type — all before any run starts."""
    from orchbench.types import RUN_OPTIONS

    field = _run_option(key)
    points = []
    for raw in values:
        point = dataclasses.replace(opts, sets=list(opts.sets))
        try:
            if field is not None:
                option = RUN_OPTIONS[field]
                setattr(point, field, option.value.parse(field, raw, shown=f"{option.flag} {raw!r}"))
            else:
                point.sets.append(f"{key}={raw}")
            specs = run_specs.build_specs(names, point)
        except UsageError as exc:
            raise UsageError(f"--over {key}={raw}: {exc}") from None
        points.append(Point(raw, _value_in(specs, field, key), point))
    return points


def _value_in(specs: list, field: str | None, key: str) -> Any:
    """The swept option's parsed value, as the specs carry it."""
    if field is not None:
        return getattr(specs[0][1], field)
    scope, _, bare = key.rpartition(".")
    for _, spec in specs:
        for where in ("strategy", "workload", "retry"):
            options = getattr(spec, f"{where}_options")
            if scope in ("", where) and bare in options:
                return options[bare]
    return None


@dataclasses.dataclass
class Point:
    """One value of a sweep: as typed, as parsed, and the options its comparison runs with."""

    text: str
    value: Any
    opts: common.RunOptions


@common.with_run_options(only=("workload", "case", "input_path", "scenario", "seed", "retry", "sets", "reference"))
def sweep_command(
    over: Annotated[
        str,
        typer.Option(
            "--over",
            help="The option and its values, e.g. concurrency=1,4,16,64, adaptive=true,false or "
            "fault-rate=0,0.1,0.3 (any --set key, a fault/latency override, seed, retry or scenario); every value is "
            "checked before the first run.",
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
    from orchbench.harness import noise
    from orchbench.harness.planner import plan
    from orchbench.python_api import measure, pick_baseline
    from orchbench.results import document as results
    from orchbench.views.plots import SweepPoint, plot_sweep
    from orchbench.views.progress import progress_reporter

    key, values = _sweep_values(over)
    names = run_specs.strategy_names(strategies)
    first_results = results.default_path(results_dir, opts.workload)
    plot = _plot_path(results_dir, first_results, key)
    refuse_overwrites({"the sweep's plot": plot, "--results-dir": first_results}, opts.inputs())
    run_specs.read_input_once(opts)  # once for every point of the sweep (standard input can be read only once)
    planned = sweep_points(names, opts, key, values)
    one_point = plan(names, iterations, warmup)  # the plan every point runs (measure plans it the same way)
    order = one_point * len(planned)
    labels = [f"{key}={point.text}" for point in planned for _ in one_point]
    noisy = noise.reasons()  # read before the runs, which load the machine themselves
    points: list[SweepPoint] = []
    with progress_reporter(quiet, len(order), order=order, points=labels) as report:
        for index, point in enumerate(planned):

            def at_point(n: int, _total: int, slot: Any, result: Any, offset: int = index * len(one_point)) -> None:
                report(offset + n, len(order), slot, result)

            document, interrupted = measure(
                names,
                point.opts,
                iterations,
                warmup,
                pick_baseline(names, None),
                quiet,
                {"command": "sweep", "over": key, "value": point.value},
                progress=at_point,
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
                            point.value,
                            statistics.median(r.wall_s for r in timed),
                            statistics.median(r.throughput for r in timed),
                            all(r.ok for r in runs),
                        )
                    )
    noise.warn(noisy)
    _print_sweep(key, [p.text for p in planned], points, parsed=[p.value for p in planned])
    plot_sweep(points, plot, option=key, unit=document["settings"]["unit"])
    say(f"plot: {plot}")
    return 0


def _plot_path(results_dir: Path, first_results: Path, key: str) -> Path:
    """``sweep-<workload>-<UTC time>-<option>.png``, named after the sweep's first results file, so one sweep's
    plot never replaces another's."""
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in key)
    return results_dir / f"{first_results.stem.replace('compare-', 'sweep-', 1)}-{safe}.png"


def _print_sweep(
    key: str, values: list[str], points: list, console: Any = None, parsed: list[Any] | None = None
) -> None:
    """The median wall per strategy (rows) and value (columns), fitted to the console; ✗ marks a point with a run
    that was not ok. ``values`` as typed, ``parsed`` as the points carry them (by default the numbers typed)."""
    from rich.text import Text

    from orchbench.support.console import make_console, safe_text
    from orchbench.views.table import Column, print_table

    names = list(dict.fromkeys(p.strategy for p in points))
    cols = [Column("strategy", [safe_text(n) for n in names], numeric=False)]
    for value, wanted in zip(values, parsed if parsed is not None else [float(v) for v in values], strict=True):
        cells = []
        for name in names:
            p = next((p for p in points if p.strategy == name and p.value == wanted), None)
            cells.append("—" if p is None else f"{p.median_wall_s:.3f}" + ("" if p.ok else " ✗"))
        cols.append(Column(safe_text(f"{key}={value}"), cells))
    print_table(console or make_console(), cols, Text(safe_text(f"median wall time [s] by {key}")))


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_command)
