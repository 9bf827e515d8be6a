"""One self-contained HTML page of a comparison: title, table, verdicts, correctness, plots and environment.

The page needs nothing outside itself — styles are inline and the plots are PNGs embedded as ``data:`` URIs — so
it can be attached to a pull request or mailed, and opens in any browser without a network. Every text that comes
from a results file (strategy names, notes, the environment) is escaped.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from orchbench.results.document import machine_label
from orchbench.results.figures import Report, footnotes
from orchbench.views.columns import columns
from orchbench.views.table import Column

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 78em;
       padding: 0 1.5em; color: #1f2328; }
h1 { font-size: 1.45em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.subtitle { color: #59636e; margin-top: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .35em .7em; border-bottom: 1px solid #d1d9e0; vertical-align: top; }
th { background: #f6f8fa; text-align: right; } th:first-child, td:first-child { text-align: left; }
td { text-align: right; white-space: nowrap; } td:first-child { white-space: normal; }
th.text, td.text { text-align: left; white-space: normal; }
tr.winner td { color: #1a7f37; font-weight: 600; } tr.flagged td { color: #cf222e; }
.state { padding: .6em 1em; border-radius: 6px; border: 1px solid; }
.state.ok { background: #dafbe1; border-color: #4ac26b; }
.state.warn { background: #fff8c5; border-color: #d4a72c; }
.state.bad { background: #ffebe9; border-color: #ff8182; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; border: 1px solid #d1d9e0; }
svg.account, svg.timeline { max-width: 100%; height: auto; display: block; }
dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2em 1.2em; } dt { font-weight: 600; }
dd { margin: 0; } ul.notes li { margin: .3em 0; }
p, li, dd, h1 { overflow-wrap: break-word; }  /* a long word (a commit, a path) breaks rather than widen the page */
@media (max-width: 600px) {
  body { margin: 1em auto; padding: 0 .75em; font-size: 14px; }
  dl { grid-template-columns: minmax(0, 1fr); } dd { margin-bottom: .4em; }
}
"""
NARROW_SCREEN = "(max-width: 600px)"  # where the page shows the plots drawn for a phone


def _title_line(report: Report) -> str:
    commit = report.environment.get("git_commit")
    parts = [
        f"workload {report.workload or '—'}",
        f"case {report.case or '—'}",
        f"scenario {report.scenario or '—'}",
        machine_label(report.environment),
        f"commit {str(commit)[:12] if commit else 'unknown'}",
    ]
    return " · ".join(parts)


def _tables(report: Report) -> list[str]:
    """The main figures (as the terminal's main table), then every other column beside the strategy."""
    strategy, *rest = columns(report)
    main = [strategy, *(c for c in rest if c.place == "main")]
    details = [strategy, *(c for c in rest if c.place != "main")]
    return [_table(report, main), "<h2>Details</h2>", _table(report, details)]


def _table(report: Report, cols: Sequence[Column]) -> str:
    def kind(c: Column) -> str:
        return "" if c.numeric else ' class="text"'

    head = "".join(f"<th{kind(c)}>{escape(c.header)}</th>" for c in cols)
    rows = []
    for i, row in enumerate(report.rows):
        mark = "flagged" if row.flagged else ("winner" if row.winner else "")
        cells = "".join(f"<td{kind(c)}>{escape(c.cells[i])}</td>" for c in cols)
        rows.append(f'<tr class="{mark}">{cells}</tr>' if mark else f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _correctness(report: Report, documents: Sequence[Mapping[str, Any]]) -> str:
    """Whether every run's output was complete and checked (against a reference, or for agreement across
    strategies), and who fell short."""
    flagged = [r for r in report.rows if r.flagged]
    total = sum(r.runs for r in report.rows)
    unchecked = total - sum(r.correct_runs for r in report.rows) - sum(r.runs - r.ok_runs for r in flagged)
    parts = []
    if flagged:
        parts.append(
            "Not every run was correct: "
            + "; ".join(f"{r.strategy}: {r.correct_runs} of {r.runs} correct ({r.problem_text()})" for r in flagged)
            + "."
        )
    elif not unchecked:
        parts.append(
            f"Every measured run ({total}) of every strategy finished, complete and equal to the reference output."
        )
    if unchecked:
        parts.append(f"{unchecked} of {total} runs are unverified: there was no reference to check them against.")
    parts += [
        f"Agreement across strategies: {a['summary']}."
        for a in (d.get("settings", {}).get("agreement") for d in documents)
        if isinstance(a, Mapping) and a.get("summary")
    ]
    parts.append(
        f"Winner: {report.winner}."
        if report.winner
        else "No winner: no strategy has all its runs complete and not wrong."
    )
    kind = "bad" if flagged or not report.winner else ("warn" if unchecked else "ok")
    return f'<p class="state {kind}">{escape(" ".join(parts))}</p>'


def _environment(env: Mapping[str, Any]) -> str:
    shown: list[tuple[str, str]] = []
    for key, label in (
        ("python", "Python"),
        ("implementation", "Implementation"),
        ("os", "OS"),
        ("platform", "Platform"),
        ("machine", "Architecture"),
        ("cpu_model", "CPU"),
        ("cpu_count", "Cores"),
        ("git_commit", "Commit"),
    ):
        if env.get(key) not in (None, ""):
            shown.append((label, str(env[key])))
    if env.get("memory_total"):
        shown.append(("Memory", f"{env['memory_total'] / 2**30:.1f} GiB"))
    packages = env.get("packages")
    if isinstance(packages, Mapping) and packages:
        shown.append(("Packages", ", ".join(f"{name} {version}" for name, version in sorted(packages.items()))))
    plugins = env.get("plugins")
    if isinstance(plugins, list) and plugins:
        shown.append(
            (
                "Plugins",
                ", ".join(
                    " ".join(str(p.get(k)) for k in ("name", "distribution", "version") if p.get(k))
                    for p in plugins
                    if isinstance(p, Mapping)
                ),
            )
        )
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in shown)
    return f"<dl>{items}</dl>"


def _plots(documents: Sequence[Mapping[str, Any]]) -> list[tuple[str, bytes, bytes]]:
    """The comparison's PNG plots (wall time, throughput, memory, tuning), each drawn twice: for a wide screen and
    for a phone's (see :func:`orchbench.views.plots.narrow`), drawn into a scratch directory and read back."""
    from orchbench.views.plots import narrow, plot_comparison

    with tempfile.TemporaryDirectory(prefix="orchbench-plots-") as scratch:
        wide = plot_comparison(list(documents), scratch, stem="plot")  # type: ignore[arg-type]
        with narrow():
            small = plot_comparison(list(documents), scratch, stem="phone")  # type: ignore[arg-type]
        pictures = [
            (Path(w).stem.removeprefix("plot-"), Path(w).read_bytes(), Path(n).read_bytes())
            for w, n in zip(wide, small, strict=True)
        ]
        # the time account is drawn as SVG in its own section
        return [picture for picture in pictures if picture[0] not in ("account", "timeline")]


def _figure(name: str, wide: bytes, small: bytes) -> str:
    """A plot that a phone shows in its narrow drawing and any other screen in its wide one."""

    def uri(png: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    return (
        f'<figure><picture><source media="{NARROW_SCREEN}" srcset="{uri(small)}">'
        f'<img alt="{escape(name)} per strategy" src="{uri(wide)}"></picture></figure>'
    )


def _account(report: Report) -> list[str]:
    """The time account of each strategy's typical run: stacked bars, and a per-worker timeline where readable."""
    from orchbench.views.account import TITLE, svg_bars, svg_timeline

    bars = svg_bars(report.accounts)
    if not bars:
        return []
    timelines = [svg_timeline(name, account) for name, account in report.accounts.items()]
    shown = [t for t in timelines if t]
    out = [f"<h2>{escape(TITLE)}</h2>", f"<figure>{bars}</figure>"]
    if shown:
        out += [
            "<h3>Items per worker (orange: retried, red: failed; grey: start-up)</h3>",
            *(f"<figure>{t}</figure>" for t in shown),
        ]
    return out


def _settings(documents: Sequence[Mapping[str, Any]]) -> str:
    first = documents[0].get("settings", {})
    parts = [
        f"{first.get('iterations', '?')} measured runs per strategy after {first.get('warmup', 0)} warm-up",
        "each run in a fresh process, interleaved in rotating rounds",
    ]
    if len(documents) > 1:
        parts.append(f"pooled from {len(documents)} results files")
    created = sorted(str(d["created"]) for d in documents if d.get("created"))
    if created:
        parts.append(f"recorded {created[0]}" + (f" to {created[-1]}" if created[-1] != created[0] else ""))
    return escape("; ".join(parts) + ".")


def to_html(report: Report, documents: Sequence[Mapping[str, Any]], plots: bool = True) -> str:
    """The whole page; ``documents`` are the results files the report was built from (for the plots and settings)."""
    figures = [_figure(*plot) for plot in (_plots(documents) if plots else [])]
    notes = "".join(f"<li>{escape(note)}</li>" for note in footnotes(report))
    title = f"orchbench comparison — {report.workload or 'workload'}"
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
                f"<h1>{escape(title)}</h1>",
                f'<p class="subtitle">{escape(_title_line(report))}</p>',
                f"<p>{_settings(documents)}</p>",
                _correctness(report, documents),
                "<h2>Results</h2>",
                *_tables(report),
                "<h2>Notes and verdicts</h2>",
                f'<ul class="notes">{notes}</ul>',
                *_account(report),
                *(["<h2>Plots</h2>", *figures] if figures else []),
                "<h2>Environment</h2>",
                _environment(report.environment),
                "</body></html>",
            ]
        )
        + "\n"
    )
