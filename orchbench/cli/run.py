"""``orchbench run STRATEGY``: one measured run in a fresh process, verified against the reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.cli import common
from orchbench.support.console import (
    safe_markup as escape,  # outside text (answers, errors, items, names) shown as text
)
from orchbench.types import RunResult

LISTED_FAILURES = 20  # in the table; --json lists every failed item


def where_run(spec: dict, workload_cls: Any = None) -> str:
    """``scenario NAME``, or ``server HOST`` for a run against an outside service (its workload's
    :meth:`~orchbench.Workload.service_host`)."""
    host = workload_cls.service_host(spec.get("workload_options") or {}) if workload_cls is not None else None
    return f"server {host}" if host else f"scenario {spec.get('scenario')}"


def _groups(result: RunResult, unit: str, workload_cls: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """The run's figures by group (output, time, attempts, resources, limit, service, strategy, notes), with
    units."""
    from orchbench.support import units

    verdict = {
        "correct": "[green]correct[/]",
        "unverified": "[yellow]unverified[/] (no reference: record one with "
        "`orchbench reference record`, or compare strategies for agreement)",
    }.get(result.verdict, f"[red]{result.verdict.upper()}[/]")
    checked = f" (reference {result.reference_digest})" if result.reference_digest else ""
    output = [
        ("result", f"{verdict}{checked}"),
        (
            "items",
            f"{units.counted(result.items, unit)}, {units.count(result.unique_items)} distinct · "
            f"{units.count(result.succeeded)} with a value ({100 * result.success_rate:.1f} %)",
        ),
    ]
    if result.mismatch:
        from orchbench.harness.verify import describe

        output.append(
            (
                "differences",
                escape(
                    f"against the {result.mismatch['against']}: "
                    + describe(result.mismatch["count"], result.mismatch["first"])
                ),
            )
        )
    if result.error:
        output.append(("error", f"[red]{escape(result.error)}[/]"))
    for failure in result.failures[:LISTED_FAILURES]:
        output.append(
            (
                "failed",
                f"[red]{escape(str(failure['item']))} ×{failure['positions']}: {escape(str(failure['error']))}[/]",
            )
        )
    if len(result.failures) > LISTED_FAILURES:
        output.append(
            ("failed", f"[red]… and {len(result.failures) - LISTED_FAILURES:,} more items (all in --json)[/]")
        )
    done = "" if result.complete else f" (the {units.count(result.succeeded)} that succeeded)"
    time = [("wall", units.duration(result.wall_s)), ("throughput", f"{result.throughput:,.1f} {unit}/s{done}")]
    if result.elapsed_s is not None:  # what the user waited, beside the pipeline's own window
        time.insert(1, ("elapsed", f"{units.duration(result.elapsed_s)} (the whole command; wall is the pipeline's)"))
    if result.startup_s >= 0.001:
        time.insert(1, ("start-up", f"{units.duration(result.startup_s)} (before the timed run)"))
    hedges = f" · {result.hedges} hedges, {result.hedges_won} won" if result.hedges else ""
    attempts = [
        (
            "attempts",
            f"{units.count(result.attempts)} · {units.plural(result.retries, 'retry', 'retries')} · "
            f"{units.count(result.give_ups)} gave up{hedges}",
        )
    ]
    if result.latency_p50_s is not None:
        attempts.append(
            (
                "latency",
                f"p50 {units.duration(result.latency_p50_s)} · "
                f"p95 {units.duration(result.latency_p95_s)} · p99 {units.duration(result.latency_p99_s)}",
            )
        )
    cpu = (
        "n/a"
        if result.cpu_percent is None
        else (f"{result.cpu_percent:.0f} % of a core ({units.duration(result.cpu_s)} user+sys)")
    )
    period = f"sampled every {units.duration(result.sample_period_s)}" if result.sample_period_s else "sampled"
    resources = [
        ("CPU", cpu),
        (
            "peak memory",
            f"RSS {units.mib(result.peak_rss)} · USS {units.mib(result.peak_uss)} "
            f"(process tree: each process's own peak from the kernel, their sum "
            f"{period})",
        ),
    ]
    if result.service_cpu_s is not None:
        resources.insert(
            1, ("service CPU", f"{units.duration(result.service_cpu_s)} user+sys (the workload's service)")
        )
    groups = [("output", output), ("time", time), ("attempts", attempts), ("resources", resources)]
    limit = [("best possible", "unknown (the workload cannot tell the best possible time here)")]
    if result.limit_s is not None:
        limit = [
            ("best possible", units.duration(result.limit_s)),
            (
                "efficiency",
                f"{100 * (result.efficiency or 0):.0f} % (best possible ÷ wall)"
                if result.complete
                else f"at most {100 * (result.efficiency or 0):.0f} % (the best possible time is for every item)",
            ),
        ]
    if result.cpu_floor_s is not None:
        whose = "the run's CPU and its service's" if result.service_cpu_s is not None else "the run's CPU"
        limit += [
            ("CPU floor", f"{units.duration(result.cpu_floor_s)} ({whose} over {result.cores} cores)"),
            ("CPU efficiency", f"{100 * (result.cpu_efficiency or 0):.0f} % (CPU floor ÷ wall)"),
        ]
    groups.append(("limit", limit))
    if result.workload_stats:
        groups.append(
            ("service", [(escape(k), escape(v)) for k, v in workload_cls.format_stats(result.workload_stats)])
        )
    strategy = []
    if result.resolved_options or result.in_flight is not None:  # the settings it ran with, defaults filled in
        shown = " ".join(f"{k}={v}" for k, v in result.resolved_options.items() if v is not None)
        in_flight = f"at most {result.in_flight} in flight" if result.in_flight is not None else ""
        if shown or in_flight:  # never a "settings" line with nothing after it
            strategy.append(("settings", " · ".join(part for part in (escape(shown), in_flight) if part)))
    if result.worker_resources is not None:  # the workload's worker factory: one resource per worker
        opened_closed = result.worker_resources
        text = f"{opened_closed['opened']} opened · {opened_closed['closed']} closed"
        text += "".join(f" · {error}" for error in opened_closed.get("errors", []))
        strategy.append(("worker resources", escape(text)))
    for key, value in result.strategy_stats.items():
        if isinstance(value, dict):  # a summary: its scalar figures (trajectories are in --json)
            value = {k: v for k, v in value.items() if not isinstance(v, (list, dict))}
        strategy.append((units.label(key), escape(units.figure(key, value))))
    if strategy:
        groups.append(("strategy", strategy))
    from orchbench.results import verdicts
    from orchbench.views.account import run_lines

    found = verdicts.verdict(result)
    account = run_lines(result.time_account, found.text if found else None)
    if account:
        groups.append(("account", [(figure, escape(value)) for figure, value in account]))
    if result.measure_notes:
        groups.append(("notes", [("measuring", escape(note)) for note in result.measure_notes]))
    return groups


def render_result(label: str, result: RunResult, unit: str, workload_cls: Any = None) -> None:
    """The figures of one run, grouped: output, time, attempts, resources, limit, service, strategy."""
    from rich import box
    from rich.table import Table

    from orchbench.api import Workload
    from orchbench.support.console import make_console

    spec = result.spec
    title = (
        f"{label} · {spec['workload']} · {spec.get('case') or spec.get('input_path')} · {where_run(spec, workload_cls)}"
    )
    table = Table(
        title=escape(title), title_justify="left", show_header=False, box=box.SIMPLE, pad_edge=False, show_edge=False
    )
    table.add_column("group", style="bold", no_wrap=True)
    table.add_column("figure", style="dim", no_wrap=True)
    table.add_column("value", overflow="fold")
    groups = _groups(result, escape(unit), workload_cls or Workload)  # a plugin's unit: shown as text
    for n, (name, rows) in enumerate(groups, 1):
        for i, (figure, value) in enumerate(rows, 1):
            table.add_row(name if i == 1 else "", figure, value, end_section=i == len(rows) and n < len(groups))
    make_console().print(table)


@common.with_run_options()
def run_command(
    strategy: Annotated[str, typer.Argument(help="Strategy or preset to run (see `orchbench list`).")],
    opts: common.RunOptions,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result (output included) as JSON.")] = False,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Also write a JUnit XML file for CI: one test case, failed unless the run is right."
        ),
    ] = None,
) -> int:
    """Run one strategy once, in a fresh process, and print wall time, throughput, success, CPU and memory."""
    from orchbench import python_api
    from orchbench.cli.app import state
    from orchbench.harness.isolate import since_process_start
    from orchbench.harness.overwrite import refuse_overwrites
    from orchbench.harness.plugins import get_registry, warn_plugin_problems
    from orchbench.support.console import say
    from orchbench.support.redact import scrub
    from orchbench.views import ci as ci_outputs

    warn_plugin_problems()
    if junit is not None:
        refuse_overwrites({"--junit": junit}, opts.inputs())  # before the run: never over an input, writable
    result = python_api.run(strategy, with_output=as_json, debug=state.debug, run_options=opts)
    result.elapsed_s = since_process_start()
    label = result.name
    if as_json:
        shown = scrub({**result.to_dict(with_output=True), "label": label})  # no secret is shown
        typer.echo(json.dumps(shown, indent=2, default=list))
    else:
        workload_cls = get_registry().workload(opts.workload)
        render_result(label, result, workload_cls.unit, workload_cls)
    if junit is not None:
        path = ci_outputs.write_junit(junit, "orchbench run", ci_outputs.run_cases(label, result), opts.workload)
        say(f"junit: {path}")
    ci_outputs.append_step_summary(ci_outputs.run_summary_markdown(label, result))
    return 0 if result.ok else 1


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
