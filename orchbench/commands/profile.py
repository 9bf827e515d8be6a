"""``orchbench profile --memory``: a memray profile of each strategy, worker processes included."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.commands import common
from orchbench.errors import UsageError
from orchbench.units import MIB, mib

Strategies = Annotated[
    list[str] | None,
    typer.Option(
        "--strategies",
        "--strategy",
        help="Strategies or presets to profile: space- or comma-separated after one flag, or a repeated flag "
        "(default: every installed strategy).",
    ),
]


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
        return "[green]correct[/]"
    if entry["error"]:
        return "[red]ERROR[/]"
    return "[red]INCOMPLETE[/]" if not entry["complete"] else "[red]WRONG[/]"


def _heap(entry: dict[str, Any]) -> str:
    peaks = [p["peak_heap"] for p in entry["processes"] if "peak_heap" in p]
    if len(peaks) <= 1:
        return mib(entry["peak_heap"])
    return f"{mib(entry['peak_heap'])}\nΣ of {len(peaks)}: " + " + ".join(f"{p / MIB:.1f}" for p in peaks)


def _via(site: dict[str, Any]) -> str:
    """``caller:line ← its caller:line`` (orchbench frames only)."""
    return " ← ".join(f"{frame['function']}:{frame['site'].rpartition(':')[2]}" for frame in site["via"])


def render(summary: dict[str, Any], out: Path) -> None:
    """The summary table, then the top allocation sites of each strategy."""
    from rich.table import Table

    from orchbench.console import make_console, safe_markup

    console = make_console()
    options = summary["options"]
    first = summary["strategies"][0]["spec"] if summary["strategies"] else {}
    title = (
        f"memory profile · {first.get('workload')} · {first.get('case') or first.get('input_path')} · "
        f"scenario {first.get('scenario')} · memray {summary['environment']['memray']}"
    )
    table = Table(title=safe_markup(title), title_justify="left")
    for column in ("strategy", "procs", "peak heap", "allocations", "allocated", "peak RSS (tree)", "output"):
        table.add_column(column, justify="left" if column in ("strategy", "output") else "right")
    if options["leaks"]:
        table.add_column("held at end", justify="right")
    if options["temporary"]:
        table.add_column("temporary", justify="right")
    for entry in summary["strategies"]:
        row = [
            safe_markup(entry["label"]),
            str(len(entry["processes"])),
            _heap(entry),
            f"{entry['allocations']:,}",
            mib(entry["allocated_bytes"]),
            mib(entry["peak_rss"]),
            _verdict(entry),
        ]
        if options["leaks"]:
            row.append(mib(entry.get("leaked_bytes")))
        if options["temporary"]:
            row.append(f"{mib(entry.get('temporary_bytes'))}\n{entry.get('temporary_allocations', 0):,} allocs")
        table.add_row(*row)
    console.print(table)
    views = [("peak", "held at the peak")]
    if options["leaks"]:
        views.append(("leaked", "still held at the end"))
    if options["temporary"]:
        views.append(("temporary", "temporary allocations"))
    for view, words in views:
        sites = Table(title=f"top allocation sites: {words}", title_justify="left")
        for column in ("strategy", "function and site", "via (orchbench callers)", "bytes", "allocs"):
            sites.add_column(column, justify="right" if column in ("bytes", "allocs") else "left", overflow="fold")
        for entry in summary["strategies"]:
            for n, site in enumerate(entry["top"].get(view, [])):
                where = f" in {site['processes']} procs" if site["processes"] > 1 else ""
                sites.add_row(
                    safe_markup(entry["label"]) if n == 0 else "",
                    safe_markup(f"{site['function']}  {site['site']}"),
                    safe_markup(_via(site)),
                    mib(site["bytes"]) + where,
                    f"{site['allocations']:,}",
                )
            sites.add_section()
        console.print(sites)
    console.print(f"captures, flamegraphs and summary.json: {safe_markup(out)}/")
    for entry in summary["strategies"]:
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
    from orchbench import profile
    from orchbench.commands.run import warn_plugin_problems

    if not memory:
        raise UsageError("choose what to profile: --memory (memray) is the only mode for now")
    warn_plugin_problems()
    specs = common.build_specs(common.strategy_names(strategies), opts)
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
