"""What a CI job reads besides the exit status: JUnit XML, the GitHub step summary, and the JSON list that
github-action-benchmark's ``customSmallerIsBetter`` tool reads.

- :func:`junit_xml`: one ``testsuite``, one ``testcase`` per strategy; a ``failure`` (with the first error as its
  message) when a run was wrong, incomplete or failed, or when the gate found the strategy slower than its
  baseline. A CI server shows each strategy as a test.
- :func:`append_step_summary`: Markdown appended to the file ``$GITHUB_STEP_SUMMARY`` names, when it is set.
- :func:`benchmark_action`: ``[{"name", "unit", "value", "range", "extra"}, ...]``, one entry per strategy, the
  value its median wall time in seconds (smaller is better).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchbench.support.console import safe_text

if TYPE_CHECKING:
    from orchbench.results.figures import Report
    from orchbench.types import RunResult

STEP_SUMMARY_VAR = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class Case:
    """One test case of the JUnit file: a strategy, its time, and why it failed (None when it passed)."""

    name: str
    seconds: float
    failure: str | None = None
    details: str = ""


def cases_of(report: Report, failed: Mapping[str, str], regressed: Mapping[str, str]) -> list[Case]:
    """A case per row of ``report``: failed with the first error (``failed``) or the regression (``regressed``)."""
    cases = []
    for row in report.rows:
        problems = [p for p in (failed.get(row.strategy), regressed.get(row.strategy)) if p]
        median = row.wall.median if row.wall else 0.0
        details = f"{row.correct_runs} of {row.runs} runs correct; median wall {median:.6g} s"
        cases.append(Case(row.strategy, sum(row.walls), "; ".join(problems) or None, details))
    return cases


def run_cases(label: str, result: RunResult) -> list[Case]:
    """The one case of ``orchbench run``."""
    from orchbench.results.verdicts import run_problem

    return [Case(label, result.wall_s, None if result.ok else run_problem(result), f"verdict {result.verdict}")]


def junit_xml(suite: str, cases: Sequence[Case], classname: str) -> str:
    """The JUnit XML document (as pytest's ``--junitxml`` writes it): a testsuite of these cases."""
    failures = sum(c.failure is not None for c in cases)
    root = ET.Element("testsuites")
    element = ET.SubElement(
        root,
        "testsuite",
        name=_xml_text(suite),
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(c.seconds for c in cases):.3f}",
    )
    for case in cases:
        node = ET.SubElement(
            element, "testcase", classname=_xml_text(classname), name=_xml_text(case.name), time=f"{case.seconds:.3f}"
        )
        if case.failure is not None:
            failure = ET.SubElement(node, "failure", message=_xml_text(case.failure))
            failure.text = _xml_text(case.failure)
        if case.details:
            ET.SubElement(node, "system-out").text = _xml_text(case.details)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _xml_text(value: Any) -> str:
    """Text XML 1.0 can hold: control characters (from a service's error, an item) shown escaped."""
    return safe_text(value)


def write_junit(path: str | os.PathLike[str], suite: str, cases: Sequence[Case], classname: str) -> Path:
    from orchbench.support.atomic import write_text

    return write_text(path, junit_xml(suite, cases, classname), "the JUnit file")


def step_summary_path() -> Path | None:
    """The file of ``$GITHUB_STEP_SUMMARY``, or None when the variable is unset or empty."""
    value = os.environ.get(STEP_SUMMARY_VAR)
    return Path(value) if value else None


def append_step_summary(markdown: str) -> Path | None:
    """Append ``markdown`` to the step summary file when ``$GITHUB_STEP_SUMMARY`` is set; the path written, or None.

    The runner creates the file; appending (never replacing) keeps what earlier steps wrote. A file that cannot
    be written is one warning line: the summary is a courtesy, the results are saved regardless.
    """
    from orchbench.support.console import say

    path = step_summary_path()
    if path is None:
        return None
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")
    except OSError as exc:
        say(f"orchbench: warning: cannot append to ${STEP_SUMMARY_VAR} ({path}): {exc.strerror or exc}")
        return None
    return path


def summary_markdown(
    report: Report, failed: Mapping[str, str], verdicts: Iterable[str], winner: str | None = None
) -> str:
    """The comparison's Markdown table, then what decided the exit status: failed strategies and the gate, and
    the winner (the fastest with every run right, when significantly the fastest)."""
    from orchbench.views.markdown import to_markdown

    lines = [to_markdown(report).rstrip("\n"), ""]
    for name, error in failed.items():
        lines.append(f"- :x: **{_md(name)}**: {_md(error)}")
    lines += [f"- {_md(v)}" for v in verdicts]
    if winner:
        lines.append(f"- Winner: **{_md(winner)}**")
    return "\n".join(lines).rstrip("\n") + "\n"


def run_summary_markdown(label: str, result: RunResult) -> str:
    from orchbench.results.verdicts import run_problem

    spec = result.spec
    where = spec.get("case") or spec.get("input_path")
    verdict = result.verdict if result.ok else f"{result.verdict}: {run_problem(result)}"
    return (
        f"### orchbench run {_md(label)} · {_md(spec.get('workload'))} · {_md(where)}\n\n"
        f"| wall [s] | throughput | success | verdict |\n|---:|---:|---:|:---|\n"
        f"| {result.wall_s:.4g} | {result.throughput:,.1f}/s | {100 * result.success_rate:.1f} % | {_md(verdict)} |\n"
    )


def _md(value: Any) -> str:
    """Outside text in Markdown: shown as text (no markup, no table cell break)."""
    text = safe_text(value)
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def benchmark_action(report: Report) -> str:
    """github-action-benchmark's ``customSmallerIsBetter`` JSON: per strategy its median wall in seconds, the
    spread as ``range`` and the runs behind it as ``extra``."""
    scope = " · ".join(str(p) for p in (report.workload, report.case) if p)
    entries = []
    for row in report.rows:
        if row.wall is None:
            continue
        extra = [f"{row.correct_runs} of {row.runs} runs correct", f"IQR {row.wall.iqr:.4g} s"]
        if row.flagged:
            extra.append(row.problem_text())
        if row.comparison is not None:
            extra.append(f"vs {report.baseline}: {row.comparison.verdict} (p={row.comparison.p_value:.3g})")
        entries.append(
            {
                "name": f"{scope} · {row.strategy}" if scope else row.strategy,
                "unit": "s",
                "value": row.wall.median,
                "range": f"± {row.wall.stdev:.4g}",
                "extra": "; ".join(extra),
            }
        )
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
