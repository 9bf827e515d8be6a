"""``orchbench check``: the instrument's error on this machine against known work, and the machine's noise.

Every figure is measured exactly as a benchmark measures it (an isolated run of the built-in ``calibrate``
workload, sequentially) and set against the truth the work was built to have. The bounds are the project's:
wall within max(1 %, 10 ms) above a sleep, CPU within max(5 %, 20 ms) of a burn and never above cores × wall,
a sleeping run's CPU at most 20 ms, a peak rise within 1 MiB + 1 % of the memory held.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer

from orchbench import RunResult

MIB = 2**20
SLEEP_S, BURN_S, HOLD_MIB, SHORT_S, LONG_S = 1.0, 0.5, 64.0, 0.05, 2.0
SPREAD_LOOPS = 3_000_000  # the fixed workload of the spread runs: about 0.1-0.3 s of one core
SLEEPING_CPU_S = 0.02


@dataclass
class Check:
    """One figure against its truth: the error and the bound it must keep."""

    figure: str
    unit: str
    truth: float
    measured: float | None
    allowed: float  # the largest error that passes
    ok: bool
    one_sided: bool = False  # the error must lie between 0 and +allowed, not within ±allowed

    def bound_text(self, fmt: str) -> str:
        """The error this check allows, as the table shows it."""
        if self.allowed == float("inf"):
            return "—"
        return f"0 to +{fmt.format(self.allowed)}" if self.one_sided else "±" + fmt.format(self.allowed)

    @property
    def error(self) -> float | None:
        return None if self.measured is None else self.measured - self.truth


def _calibrate(**options: Any) -> RunResult:
    import orchbench

    result = orchbench.run("sequential", "calibrate", scenario="none", set=options)
    if not result.ok:
        raise RuntimeError(f"the calibrate run failed: {result.error or 'wrong output'}")
    return result


def judge(sleep: RunResult, burn: RunResult, short: RunResult, long: RunResult, cores: int) -> list[Check]:
    """The checks of four calibrate runs: a sleep of SLEEP_S, a burn of BURN_S, HOLD_MIB held SHORT_S and LONG_S."""
    checks = []
    wall_room = max(0.01 * SLEEP_S, 0.010)
    checks.append(
        Check(
            f"wall of a {SLEEP_S:g} s sleep",
            "s",
            SLEEP_S,
            sleep.wall_s,
            wall_room,
            0 <= sleep.wall_s - SLEEP_S <= wall_room,
            one_sided=True,
        )
    )
    checks.append(
        Check(
            "CPU of that sleeping run",
            "s",
            0.0,
            sleep.cpu_s,
            SLEEPING_CPU_S,
            sleep.cpu_s is not None and sleep.cpu_s <= SLEEPING_CPU_S,
            one_sided=True,
        )
    )
    cpu_room = max(0.05 * BURN_S, 0.020)
    ceiling = cores * burn.wall_s + (burn.cpu_granularity_s or 0.0)
    checks.append(
        Check(
            f"CPU of a {BURN_S:g} s burn",
            "s",
            BURN_S,
            burn.cpu_s,
            cpu_room,
            burn.cpu_s is not None and abs(burn.cpu_s - BURN_S) <= cpu_room and burn.cpu_s <= ceiling,
        )
    )
    mem_room = 1 + 0.01 * HOLD_MIB
    for run, held in ((short, SHORT_S), (long, LONG_S)):
        rise = None if run.peak_rss is None or run.base_rss is None else (run.peak_rss - run.base_rss) / MIB
        checks.append(
            Check(
                f"peak rise, {HOLD_MIB:g} MiB held {held:g} s",
                "MiB",
                HOLD_MIB,
                rise,
                mem_room,
                rise is not None and abs(rise - HOLD_MIB) <= mem_room,
            )
        )
    runs = (sleep, burn, short, long)
    checks.append(
        Check(
            "elapsed − wall, least of every run",
            "s",
            0.0,
            min((r.elapsed_s or 0) - r.wall_s for r in runs),
            float("inf"),
            all(r.elapsed_s is not None and r.elapsed_s >= r.wall_s for r in runs),
        )
    )
    return checks


def check_command(
    runs: Annotated[int, typer.Option("--runs", min=2, max=50, help="Runs of the fixed workload for the spread.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> int:
    """Check the instrument on this machine: its error on wall, CPU and peak memory against known work, and the
    machine's noise (frequency scaling, load, run-to-run spread), ending in a verdict. Takes 10 to 20 s."""
    from orchbench import machine_noise, usable_cores

    steps = [
        ("sleep", {"sleep_s": SLEEP_S}),
        ("burn", {"cpu_s": BURN_S}),
        ("hold briefly", {"hold_mib": HOLD_MIB, "sleep_s": SHORT_S}),
        ("hold long", {"hold_mib": HOLD_MIB, "sleep_s": LONG_S}),
    ]
    total = len(steps) + runs
    measured = []
    for n, (name, options) in enumerate(steps, 1):
        print(f"check: [{n}/{total}] {name}", file=sys.stderr)
        measured.append(_calibrate(**options))
    walls = []
    for n in range(runs):
        print(f"check: [{len(steps) + n + 1}/{total}] fixed workload, run {n + 1}", file=sys.stderr)
        walls.append(_calibrate(loops=SPREAD_LOOPS).wall_s)
    sleep, burn, short, long = measured
    checks = judge(sleep, burn, short, long, cores=usable_cores())
    noise = machine_noise(walls)
    reasons = noise["noisy"]
    machine = {  # in the order the JSON has always shown them
        "cores": noise["cores"],
        "governors": noise["governors"],
        "load_per_core": noise["load_per_core"],
        "fixed_workload_walls_s": walls,
        "spread": noise["spread"],
        "noisy": reasons,
    }
    trusted = all(c.ok for c in checks)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "checks": [{**asdict(c), "error": c.error} for c in checks],
                    "machine": machine,
                    "instrument_ok": trusted,
                },
                indent=2,
            )
        )
    else:
        _render(checks, machine, walls, trusted, reasons)
    return 0 if trusted else 1


def _render(
    checks: list[Check], machine: dict[str, Any], walls: list[float], trusted: bool, reasons: list[str]
) -> None:
    from rich.markup import escape
    from rich.table import Table

    from orchbench import make_console

    table = Table(title="The instrument against known work (isolated calibrate runs)", title_justify="left")
    for column in ("figure", "truth", "measured", "error", "allowed", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for c in checks:
        fmt = "{:.1f}" if c.unit == "MiB" else "{:.4f}"
        shown = "n/a" if c.measured is None else fmt.format(c.measured)
        bounded = c.allowed != float("inf")  # else a floor: the figure must not fall below the truth
        error = (
            "—" if not bounded else "n/a" if c.error is None else ("+" if c.error >= 0 else "") + fmt.format(c.error)
        )
        allowed = c.bound_text(fmt)
        truth = f"{fmt.format(c.truth)} {c.unit}" if bounded else f"≥ {fmt.format(c.truth)} {c.unit}"
        table.add_row(c.figure, truth, f"{shown} {c.unit}", error, allowed, "[green]ok[/]" if c.ok else "[red]OFF[/]")
    console = make_console()
    console.print(table)
    governors = ", ".join(machine["governors"]) or "not exposed (a virtual machine or container)"
    load = machine["load_per_core"]
    spread = machine["spread"]
    console.print(f"CPU frequency governor: {escape(governors)}")
    cores = machine["cores"]
    console.print(f"load average: {'n/a' if load is None else f'{load * cores:.2f}'} on {cores} cores")
    console.print(
        f"fixed workload, {len(walls)} runs: median {statistics.median(walls):.4f} s, "
        f"min {min(walls):.4f} s, max {max(walls):.4f} s, spread "
        f"{'n/a' if spread is None else f'{100 * spread:.1f} %'} (1.4826 × median absolute deviation / median)"
    )
    off = [c.figure for c in checks if not c.ok]
    console.print(
        "verdict: instrument "
        + (
            "[green]trustworthy here[/]: every figure within its bound"
            if trusted
            else f"[red]NOT trustworthy here[/]: {escape('; '.join(off))} out of bound"
        )
    )
    if reasons:
        floor = 2 * (spread or 0)
        console.print(
            "verdict: machine [yellow]noisy[/]: "
            + escape("; ".join(reasons))
            + (f"; differences under about {100 * floor:.0f} % are noise here" if floor else "")
        )
    else:
        console.print("verdict: machine [green]quiet[/]: timings here are repeatable")


def register(app: typer.Typer) -> None:
    app.command("check")(check_command)
