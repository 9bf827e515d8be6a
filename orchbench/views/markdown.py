"""A comparison as Markdown: its table, the tuning and time-account tables, and the notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from orchbench.results.figures import Report, footnotes
from orchbench.support.escape import markdown_text

if TYPE_CHECKING:
    pass
from orchbench.views.columns import cells


def to_markdown(report: Report) -> str:
    """A Markdown table (one row per strategy) followed by the footnotes."""
    header, body = cells(report)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(markdown_text(c) for c in cells) + " |"

    lines = [f"### {markdown_text(report.title)}", "", line(header), "|:---|" + "---:|" * (len(header) - 1)]
    lines += [line(cells) for cells in body]
    if report.tuning:
        from orchbench.views.tuning import tuning_markdown

        lines += ["", tuning_markdown(report.tuning)]
    from orchbench.views.account import markdown

    if report.accounts:
        lines += ["", markdown(report.accounts).rstrip("\n")]
    lines += ["", *(f"- {markdown_text(note)}" for note in footnotes(report))]
    return "\n".join(lines) + "\n"
