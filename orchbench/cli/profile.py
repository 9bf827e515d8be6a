"""``orchbench profile --memory``: a memray profile of each strategy, worker processes included."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.cli import common
from orchbench.errors import UsageError
from orchbench.harness import specs as run_specs
from orchbench.support.units import MIB, mib

Strategies = Annotated[list[str] | None, common.strategies_option("profile")]


Memory = Annotated[bool, typer.Option("--memory", help="Profile memory with memray (the only mode for now).")]
Native = Annotated[bool, typer.Option("--native", help="Record native (C/C++) frames too.")]
Leaks = Annotated[bool, typer.Option("--leaks", help="Also show memory still held when the run ends.")]
Temporary = Annotated[bool, typer.Option("--temporary", help="Also show temporary allocations (freed at once).")]
Top = Annotated[int, typer.Option("--top", min=1, help="Allocation sites listed per strategy.")]
OutDir = Annotated[
    str | None,
    typer.Option(
        "--out", help="Directory for captures, flamegraphs and summary.json (default: results/profile-<UTC time>)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print summary.json instead of tables.")]


def _verdict(entry: dict[str, Any]) -> str:
    if entry["ok"]:
        return "correct"
    if entry["error"]:
        return "ERROR"
    return "INCOMPLETE" if not entry["complete"] else "WRONG"


def _heap(entry: dict[str, Any]) -> str:
    peaks = [p["peak_heap"] for p in entry["processes"] if "peak_heap" in p]
    if len(peaks) <= 1:
        return mib(entry["peak_heap"])
    return f"{mib(entry['peak_heap'])} (Σ of {len(peaks)}: " + " + ".join(f"{p / MIB:.1f}" for p in peaks) + ")"


def _site(site: dict[str, Any]) -> str:
    """``function file:line ← caller:line ← …`` (callers in orchbench only), after whose code it is when it is the
    harness's rather than the workload's."""
    via = "".join(f" ← {frame['function']}:{frame['site'].rpartition(':')[2]}" for frame in site["via"])
    owner = site.get("owner", "workload")
    whose = "" if owner == "workload" else f"[{owner}] "
    where = f" (in {site['processes']} processes)" if site["processes"] > 1 else ""
    return f"{whose}{site['function']} {site['site']}{via}{where}"


def render(summary: dict[str, Any], out: Path, console: Any = None) -> None:
    """The summary table, then the top allocation sites of each strategy: the workload's own first, then those of
    orchbench's harness (the reference check, …). Every table fits the console."""
    from rich.text import Text

    from orchbench.support.console import make_console, safe_markup, safe_text
    from orchbench.views.table import Column, print_table

    console = console or make_console()
    options = summary["options"]
    entries = summary["strategies"]
    first = entries[0]["spec"] if entries else {}
    title = (
        f"memory profile · {first.get('workload')} · {first.get('case') or first.get('input_path')} · "
        f"scenario {first.get('scenario')} · memray {summary['environment']['memray']}"
    )

    def column(header: str, cell: Any, numeric: bool = True) -> Column:
        return Column(header, [safe_text(cell(entry)) for entry in entries], numeric=numeric)

    cols = [
        column("strategy", lambda e: e["label"], numeric=False),
        column("procs", lambda e: len(e["processes"])),
        column("peak heap", _heap, numeric=False),
        column("allocations", lambda e: f"{e['allocations']:,}"),
        column("allocated", lambda e: mib(e["allocated_bytes"])),
        column("peak RSS (tree)", lambda e: mib(e["peak_rss"])),
        column("output", _verdict, numeric=False),
    ]
    if options["leaks"]:
        cols.append(column("held at end", lambda e: mib(e.get("leaked_bytes"))))
    if options["temporary"]:
        cols.append(
            column(
                "temporary",
                lambda e: f"{mib(e.get('temporary_bytes'))}, {e.get('temporary_allocations', 0):,} allocs",
                numeric=False,
            )
        )
    styles = [None if entry["ok"] else "red" for entry in entries]
    print_table(console, cols, Text(safe_text(title)), styles)
    views = [("peak", "held at the peak")]
    if options["leaks"]:
        views.append(("leaked", "still held at the end"))
    if options["temporary"]:
        views.append(("temporary", "temporary allocations"))
    for view, words in views:
        for entry in entries:
            sites = entry["top"].get(view, [])
            if not sites:
                continue
            cols = [
                Column("bytes", [mib(site["bytes"]) for site in sites]),
                Column("allocs", [f"{site['allocations']:,}" for site in sites]),
                Column("site ← orchbench callers", [safe_text(_site(site)) for site in sites], numeric=False),
            ]
            styles = [None if site.get("owner", "workload") == "workload" else "dim" for site in sites]
            heading = Text(safe_text(f"{entry['label']}: top allocation sites, {words}"), style="bold")
            print_table(console, cols, heading, styles)
    console.print(Text(f"captures, flamegraphs and summary.json: {safe_text(out)}/"))
    for entry in entries:
        for proc in entry["processes"]:
            if proc.get("error"):
                console.print(
                    f"[yellow]warning[/]: {safe_markup(entry['label'])} {safe_markup(proc['capture'])}: "
                    f"{safe_markup(proc['error'])}"
                )


@common.with_run_options()
def profile_command(
    memory: Memory = False,
    strategies: Strategies = None,
    *,
    opts: common.RunOptions,
    native: Native = False,
    leaks: Leaks = False,
    temporary: Temporary = False,
    top: Top = 5,
    out_dir: OutDir = None,
    as_json: AsJson = False,
) -> int:
    """Run each strategy once under memray (its worker processes too): peak heap, allocations, peak RSS, the top
    allocation sites, and a flamegraph per process."""
    from orchbench.harness import profile
    from orchbench.harness.plugins import warn_plugin_problems

    if not memory:
        raise UsageError("choose what to profile: --memory (memray) is the only mode for now")
    warn_plugin_problems()
    specs = run_specs.build_specs(run_specs.strategy_names(strategies), opts)
    profile.require_memray()
    options = profile.ProfileOptions(native=native, leaks=leaks, temporary=temporary, top=top)
    out = profile.prepare_out_dir(Path(out_dir) if out_dir else profile.default_out_dir())
    summary = profile.new_summary(options)
    for n, (label, spec) in enumerate(specs, 1):
        print(f"orchbench: profiling {label} ({n}/{len(specs)})…", file=sys.stderr, flush=True)
        summary["strategies"].append(profile.profile_one(label, spec, out, options))
        profile.write_summary(out, summary)  # kept current, so an interrupted profile keeps what it measured
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        render(summary, out)
    return 0 if all(entry["ok"] for entry in summary["strategies"]) else 1


def register(app: typer.Typer) -> None:
    app.command("profile")(profile_command)
