"""A comparison in the terminal: its table fitted to the width, the tuning and time-account tables, and the notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchbench.results.figures import Report, footnotes
from orchbench.support.console import safe_text
from orchbench.views.table import natural_width, print_table

if TYPE_CHECKING:
    from rich.console import Console
from orchbench.views.columns import columns, left_out


def _row_styles(report: Report) -> list[str | None]:
    return ["red" if row.flagged else ("bold green" if row.winner else None) for row in report.rows]


def render_table(report: Report, console: Console | None = None, wide: bool = False) -> None:
    """Print the comparison on the terminal; flagged strategies in red, the winner in bold green.

    The main table (strategy, median, spread, correctness, success, speed-up, verdict) comes first; the other
    figures follow in a details table, or, with ``wide`` or on a console wide enough, in the same table. A table
    too wide for the console is stacked into tables that fit (see :mod:`orchbench.views.table`).
    """
    from rich.text import Text

    from orchbench.support.console import make_console

    console = console or make_console()
    shown = [c for c in columns(report) if c.place != "export"]
    title = Text(safe_text(report.title))
    styles = _row_styles(report)
    if wide or natural_width(shown) <= console.width:  # wide: as wide as it needs; lines longer stay whole
        print_table(console, shown, title, styles, wide=True)
    else:
        strategy, *rest = shown
        for place, heading in (("main", title), ("detail", Text("Details", style="bold"))):
            group = [strategy, *(c for c in rest if c.place == place)]
            print_table(console, group, heading, styles, continued=f"{heading.plain.split(' — ')[0]} (continued)")
    if report.tuning:
        from orchbench.views.tuning import render_tuning

        render_tuning(report.tuning, console)
    from orchbench.views.account import render_terminal

    render_terminal(report.accounts, console)
    for note in [*footnotes(report), left_out(report)]:
        console.print(Text(f"• {safe_text(note)}", style="dim"))
