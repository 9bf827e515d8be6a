"""The tuning table of a comparison (:func:`orchbench.results.fairness.tuning_rows`): in the terminal, fitted to
its width, and as Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchbench.results.fairness import TUNING_HEADER


def render_tuning(rows: Sequence[Sequence[str]], console: Any = None) -> None:
    """Print the tuning table of :func:`tuning_rows`, fitted to the console (see orchbench.views.table)."""
    from rich.text import Text

    from orchbench.support.console import make_console, safe_text
    from orchbench.views.table import Column, print_table

    console = console or make_console()
    text = {0, 1, len(TUNING_HEADER) - 1}  # strategy, knob, remarks
    cols = [
        Column(name, [safe_text(row[i]) for row in rows], numeric=i not in text) for i, name in enumerate(TUNING_HEADER)
    ]
    title = Text("Tuning: each strategy's knobs searched before the comparison")
    print_table(console, cols, title, key_columns=2, text_columns=2, continued="Tuning (continued)")


def tuning_markdown(rows: Sequence[Sequence[str]]) -> str:
    lines = ["#### Tuning", "", "| " + " | ".join(TUNING_HEADER) + " |", "|" + "---|" * len(TUNING_HEADER)]
    from orchbench.support.escape import markdown_text  # names and settings come from plugins and saved files

    lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
