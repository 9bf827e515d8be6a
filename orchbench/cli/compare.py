"""``orchbench compare`` (isolated, interleaved, repeated runs; statistics; saved results; gate) and ``report``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from orchbench.cli import common
from orchbench.errors import UsageError
from orchbench.harness import specs as run_specs
from orchbench.harness.overwrite import refuse_overwrites
from orchbench.harness.tune import DEFAULT_BUDGET as DEFAULT_TUNE_BUDGET
from orchbench.support.atomic import write_text
from orchbench.support.console import say


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    html = "html"
    benchmark_action = "benchmark-action"  # github-action-benchmark's customSmallerIsBetter JSON


Strategies = Annotated[list[str] | None, common.strategies_option("compare")]
Iterations = Annotated[int, typer.Option("--iterations", "-n", help="Measured runs per strategy.")]
Warmup = Annotated[int, typer.Option("--warmup", help="Unmeasured warm-up runs per strategy, before the rounds.")]
Baseline = Annotated[
    str | None,
    typer.Option(
        "--baseline-strategy",
        help="Speed-ups are relative to this one (default: sequential when compared, else the first).",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="How to print the results.")]
Plot = Annotated[bool, typer.Option("--plot", help="Also write PNG plots beside the results file.")]
Wide = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Table: every column in one table, however wide (by default "
        "the figures beyond the main ones follow in a second table on a narrow terminal).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
ResultsDir = Annotated[Path, typer.Option("--results-dir", help="Where results files are written.")]
Tune = Annotated[
    bool,
    typer.Option(
        "--tune",
        help="First search each strategy's tunable knobs for its fastest "
        "setting on this workload, then compare every strategy at its best.",
    ),
]
TuneBudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--tune-budget",
        help=f"With --tune: the most probe runs per strategy (e.g. 24), or seconds (e.g. 300s); "
        f"default {DEFAULT_TUNE_BUDGET}.",
        show_default=False,
    ),
]


def tune_setting(tune: bool, tune_budget: str | None) -> str | None:
    """The tuning budget to use (None: no tuning), checked before any work: ``--tune-budget`` alone is refused."""
    from orchbench.harness.tune import TuneBudget

    if tune_budget is not None and not tune:
        raise UsageError(f"--tune-budget {tune_budget} works only with --tune (add --tune, or leave it out)")
    if not tune:
        return None
    TuneBudget.parse(tune_budget or DEFAULT_TUNE_BUDGET)
    return tune_budget or DEFAULT_TUNE_BUDGET


Budget = Annotated[
    int | None,
    typer.Option(
        "--budget",
        min=1,
        help="Run every strategy with exactly N items in flight (threads, coroutines, workers × concurrency, ...).",
    ),
]


Junit = Annotated[
    Path | None,
    typer.Option(
        "--junit",
        help="Also write a JUnit XML file for CI: a test case per strategy, failed when a run was wrong or "
        "incomplete, or the gate found it slower.",
    ),
]


def rendered(report: Any, fmt: Format, documents: list[dict[str, Any]]) -> str:
    """The report as Markdown, CSV, JSON or a self-contained HTML page."""
    from orchbench.views import export, markdown

    if fmt is Format.html:
        from orchbench.views.html import to_html

        return to_html(report, documents)
    if fmt is Format.benchmark_action:
        from orchbench.views.ci import benchmark_action

        return benchmark_action(report)
    return {"markdown": markdown.to_markdown, "csv": export.to_csv, "json": export.to_json}[fmt.value](report)


def render(report: Any, fmt: Format, documents: list[dict[str, Any]], wide: bool = False) -> None:
    from orchbench.views import terminal

    if fmt is Format.table:
        terminal.render_table(report, wide=wide)
    else:
        typer.echo(rendered(report, fmt, documents), nl=False)


def write_html(report: Any, documents: list[dict[str, Any]], path: Path) -> None:
    write_text(path, rendered(report, Format.html, documents), "the report")
    say(f"report: {path}")


def write_plots(document: dict[str, Any], results_path: Path) -> None:
    """PNGs beside the results file, named after it (``compare-….json`` → ``compare-…-wall.png``), so the plots of
    one comparison never overwrite another's."""
    from orchbench.views.plots import plot_comparison

    for path in plot_comparison(document, results_path.parent, stem=results_path.stem):
        say(f"plot: {path}")


@common.with_run_options()
def compare_command(
    strategies: Strategies = None,
    *,
    opts: common.RunOptions,
    iterations: Iterations = 5,
    warmup: Warmup = 1,
    baseline_strategy: Baseline = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Results file (default: results/compare-….json).")
    ] = None,
    results_dir: ResultsDir = Path("results"),
    fmt: FormatOpt = Format.table,
    wide: Wide = False,
    plot: Plot = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the report as one self-contained HTML "
            "page, to this path (bare --html: beside the results file).",
        ),
    ] = None,
    against: Annotated[Path | None, typer.Option("--against", help="A saved results file to gate against.")] = None,
    fail_above: Annotated[
        str,
        typer.Option(
            "--fail-above",
            help="With --against: fail when a strategy is significantly slower by more than this (e.g. 10%).",
        ),
    ] = "10%",
    tune: Tune = False,
    tune_budget: TuneBudgetOpt = None,
    budget: Budget = None,
    junit: Junit = None,
    python: Annotated[
        list[str] | None,
        typer.Option(
            "--python",
            metavar="<version|path>",
            help="Run every strategy under this interpreter (repeatable; rows are labelled by interpreter). "
            "orchbench is installed for it once, in a cached virtual environment.",
        ),
    ] = None,
    quiet: Quiet = False,
) -> int:
    """Compare strategies side by side: isolated, interleaved, repeated runs with statistics you can trust."""
    from orchbench import python_api
    from orchbench.results import document as results
    from orchbench.results import fairness
    from orchbench.results.figures import build_report
    from orchbench.results.gate import parse_threshold, regressions

    names = run_specs.strategy_names(strategies)
    baseline = python_api.pick_baseline(names, baseline_strategy)
    threshold = parse_threshold(fail_above)
    tuning = tune_setting(tune, tune_budget)
    target = output or results.default_path(results_dir, opts.workload)
    page = target.with_suffix(".html") if html == Path("") else html  # bare --html: beside the results
    refuse_overwrites(  # before the first run, not after all of them
        {"--output": target, "--html": page, "--junit": junit},
        {**opts.inputs(), "the baseline (--against)": against},
    )
    reference_doc = results.load(against) if against is not None else None
    if reference_doc is not None:
        check_against(reference_doc, str(against), names, opts, iterations, python or [], baseline)
    try:
        comparison = python_api.compare(
            strategies=names,
            iterations=iterations,
            warmup=warmup,
            baseline=baseline,
            budget=budget,
            tune=tuning,
            progress=not quiet,
            python=python or [],
            run_options=opts,
        )
        interrupted = False
    except python_api.Interrupted as stop:
        comparison, interrupted = stop.comparison, True
    document = comparison.to_dict()
    path, not_saved = results.save_or_fallback(target, document, exclusive=output is None)
    if interrupted:
        if path is not None and not document["runs"] and fairness.probes_kept(document):
            say(f"orchbench: tuning interrupted: its {fairness.probes_kept(document)} probes are kept in {path}")
        elif path is not None:
            say(
                f"orchbench: {len(document['runs'])} of {len(document['order'])} runs kept in {path} "
                "(marked incomplete)"
            )
        if not_saved is not None:
            say(f"orchbench: error: {not_saved}")
        return 130
    report = build_report([document], baseline=document["settings"]["baseline"])
    render(report, fmt, [document], wide)
    say(f"orchbench: error: {not_saved}" if not_saved is not None else f"results: {path}")
    status = 0 if not_saved is None else 1
    if plot and path is not None:
        write_plots(document, path)
    if html is not None and html != Path(""):
        write_html(report, [document], html)
    elif html is not None and path is not None:
        write_html(report, [document], path.with_suffix(".html"))
    failed = comparison.unsuccessful
    for label in failed:
        say(f"orchbench: {label}: no successful run (each one failed, ended incomplete or was wrong)")
    if failed:
        status = 1
    verdicts: list[str] = []
    regressed: dict[str, str] = {}
    if reference_doc is not None:
        found = regressions(document, reference_doc, threshold)
        for regression in found:
            say(f"orchbench: regression: {regression.describe()}")
            regressed[regression.strategy] = f"regression: {regression.describe()}"
        verdicts = [f"regression: {r.describe()}" for r in found] or [
            f"gate: no strategy significantly slower than in {against} by more than {threshold:.0%}"
        ]
        if found:
            status = 1
        else:
            say(verdicts[0])
    write_ci_outputs(report, comparison, regressed, verdicts, junit)
    return status


def write_ci_outputs(
    report: Any, comparison: Any, regressed: dict[str, str], verdicts: list[str], junit: Path | None
) -> None:
    """The JUnit file (when asked) and the GitHub step summary (when ``$GITHUB_STEP_SUMMARY`` is set)."""
    from orchbench.views import ci as ci_outputs

    if junit is not None:
        cases = ci_outputs.cases_of(report, comparison.failed, regressed)
        classname = ".".join(str(p) for p in (report.workload, report.case) if p)
        say(f"junit: {ci_outputs.write_junit(junit, 'orchbench compare', cases, classname)}")
    summary = ci_outputs.summary_markdown(report, comparison.failed, verdicts, comparison.winner)
    ci_outputs.append_step_summary(summary)


def check_against(
    reference_doc: dict[str, Any],
    source: str,
    names: list[str],
    opts: Any,
    iterations: int,
    pythons: list[str],
    baseline: str,
) -> None:
    """The gate's baseline checked before the first run: same workload, case, scenario, input and interpreter."""
    from orchbench.harness.interpreters import this_interpreter
    from orchbench.python_api import input_digest_of, on_interpreters
    from orchbench.results.gate import check_baseline

    specs = run_specs.build_specs(names, opts)
    first = specs[0][1]
    settings = {
        "workload": first.workload,
        "case": first.case,
        "scenario": first.scenario,
        "input_digest": input_digest_of(first),
    }
    if pythons:
        _, interpreters, _ = on_interpreters(specs, pythons, baseline)
    else:
        here = this_interpreter()
        interpreters = {label: here for label, _ in specs}
    check_baseline(reference_doc, settings=settings, interpreters=interpreters, iterations=iterations, source=source)


def report_command(
    files: Annotated[list[Path], typer.Argument(help="Results files written by compare (pooled when several).")],
    fmt: FormatOpt = Format.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the Markdown, CSV, JSON, HTML or benchmark-action JSON to this file, not standard output.",
        ),
    ] = None,
    baseline_strategy: Baseline = None,
    wide: Wide = False,
    plot: Plot = False,
) -> int:
    """Re-render saved comparison results (a table, Markdown, CSV, JSON or an HTML page), optionally with plots."""
    from orchbench.results import document as results
    from orchbench.results.figures import build_report

    if output is not None and fmt is Format.table:
        raise UsageError(
            "--output needs --format markdown, csv, json, html or benchmark-action (the table is for the terminal)"
        )
    refuse_overwrites({"--output": output}, {"a results file this command reports": files})
    documents = [results.load(path) for path in files]
    report = build_report(documents, baseline=baseline_strategy)
    if output is None:
        render(report, fmt, documents, wide)
    elif fmt is Format.html:
        write_html(report, documents, output)
    else:
        write_text(output, rendered(report, fmt, documents), "the report")
        say(f"report: {output}")
    if plot:
        for document, path in zip(documents, files, strict=True):
            write_plots(document, path)
    return 0


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
    app.command("report")(report_command)
