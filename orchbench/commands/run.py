"""``orchbench run STRATEGY``: one measured run in a fresh process, verified against the reference."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from orchbench.commands import common
from orchbench.types import RunResult

LISTED_FAILURES = 20  # in the table; --json lists every failed item


def warn_plugin_problems() -> None:
    from orchbench.plugins import get_registry

    for problem in get_registry().problems:
        print(f"orchbench: warning: {problem.source}: {problem.error} (see `orchbench list`)", file=sys.stderr)


def where_run(spec: dict) -> str:
    """``scenario NAME``, or ``server HOST`` for a run against a service given by its URL."""
    from urllib.parse import urlsplit

    options = spec.get("workload_options") or {}
    url = options.get("url")
    if url and not options.get("embedded_server"):
        return f"server {urlsplit(url).netloc or url}"
    return f"scenario {spec.get('scenario')}"


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f} MiB"


def render_result(label: str, result: RunResult, unit: str) -> None:
    """The figures of one run, as a two-column table."""
    from orchbench.console import make_console
    from rich.table import Table

    spec = result.spec
    title = f"{label} · {spec['workload']} · {spec.get('case') or spec.get('input_path')} · {where_run(spec)}"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    verdict = {"correct": "[green]correct[/]", "unverified": "[yellow]unverified[/] (no reference: record one with "
               "`orchbench reference record`, or compare strategies for agreement)"}.get(
        result.verdict, f"[red]{result.verdict.upper()}[/]")
    checked = f" (reference {result.reference_digest})" if result.reference_digest else ""
    rows = [
        ("output", f"{verdict}{checked}"),
        ("wall time", f"{result.wall_s:.3f} s" + (f" (+ start-up {result.startup_s:.3f} s)" if result.startup_s >= 0.001 else "")),
        ("throughput", f"{result.throughput:,.1f} {unit}/s"),
        ("success rate", f"{100 * result.success_rate:.1f} % ({result.succeeded}/{result.items} {unit}, "
                         f"{result.unique_items} distinct)"),
        ("attempts", f"{result.attempts} ({result.retries} retries, {result.give_ups} gave up"
                     + (f", {result.hedges} hedges of which {result.hedges_won} won" if result.hedges else "") + ")"),
        ("attempt latency", "n/a" if result.latency_p50_s is None else
         f"p50 {result.latency_p50_s * 1000:.1f} ms · p95 {result.latency_p95_s * 1000:.1f} ms · "
         f"p99 {result.latency_p99_s * 1000:.1f} ms"),
        ("CPU", "n/a" if result.cpu_percent is None else f"{result.cpu_percent:.0f} % ({result.cpu_s:.2f} s user+sys)"),
        ("peak memory", f"RSS {_mib(result.peak_rss)} · USS {_mib(result.peak_uss)} (process tree, sampled every "
                        f"{(result.sample_period_s or 0) * 1000:.0f} ms)"),
    ]
    if result.mismatch:
        from orchbench.verify import describe

        rows.insert(1, ("differences", escape(f"against the {result.mismatch['against']}: "
                                              + describe(result.mismatch["count"], result.mismatch["first"]))))
    rows.append(("limit", "unknown (the workload cannot tell the best possible time here)" if result.limit_s is None
                 else f"{result.limit_s:.3f} s (efficiency {100 * (result.efficiency or 0):.0f} %)"))
    for key, value in result.workload_stats.items():
        rows.append((f"server {key}", str(value)))
    for key, value in result.strategy_stats.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if not isinstance(v, (list, dict)))
        rows.append((f"strategy {key}", str(value)))
    if result.error:
        rows.append(("error", f"[red]{result.error}[/]"))
    for failure in result.failures[:LISTED_FAILURES]:
        rows.append(("failed", f"[red]{failure['item']} ×{failure['positions']}: {failure['error']}[/]"))
    if len(result.failures) > LISTED_FAILURES:
        rows.append(("failed", f"[red]… and {len(result.failures) - LISTED_FAILURES:,} more items (all in --json)[/]"))
    for key, value in rows:
        table.add_row(key, value)
    make_console().print(table)


def run_command(
    strategy: Annotated[str, typer.Argument(help="Strategy or preset to run (see `orchbench list`).")],
    workload: common.Workload = "anagrams",
    case: common.TestCase = None,
    input_path: common.InputFile = None,
    scenario: common.Scenario = None,
    seed: common.Seed = 0,
    fault_rate: common.FaultRate = None,
    hang_rate: common.HangRate = None,
    crash_rate: common.CrashRate = None,
    latency_scale: common.LatencyScale = None,
    cpu_ms: common.CpuMs = None,
    retry: common.Retry = "exponential",
    sets: common.Sets = None,
    no_cache: common.NoCache = False,
    no_memo: common.NoMemo = False,
    url: common.Url = None,
    reference: common.Reference = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result (output included) as JSON.")] = False,
) -> int:
    """Run one strategy once, in a fresh process, and print wall time, throughput, success, CPU and memory."""
    from orchbench.harness.isolate import run_isolated
    from orchbench.plugins import get_registry

    warn_plugin_problems()
    opts = common.RunOptions(workload, case, input_path, scenario, seed, fault_rate, hang_rate, crash_rate,
                             latency_scale, cpu_ms, retry, sets or [], no_cache, no_memo, url,
                             reference=reference)
    [(label, spec)] = common.build_specs([strategy], opts)
    debug = "--debug" in sys.argv
    result = run_isolated(spec, with_output=as_json, debug=debug)
    if opts.input_given is not None:  # the user's name for the input, not that of the private copy that was run
        result.spec["input_path"] = opts.input_given
    if as_json:
        typer.echo(json.dumps({**result.to_dict(with_output=True), "label": label}, indent=2, default=list))
    else:
        render_result(label, result, get_registry().workload(spec.workload).unit)
    return 0 if result.ok else 1


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
