"""``orchbench wordlen``: a command the plugin adds to orchbench's command line (its ``orchbench_commands`` hook)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchbench import UsageError
from orchbench_example.workload import reference_histogram


def wordlen_command(
    path: Annotated[str, typer.Argument(help="A UTF-8 text file ('-': standard input).")],
) -> int:
    """Print the histogram of word lengths of a text, as the wordlen workload's reference computes it."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    for length, words in reference_histogram(text).items():
        typer.echo(f"{length}\t{words}")
    return 0


def register(app: typer.Typer) -> None:
    app.command("wordlen")(wordlen_command)
