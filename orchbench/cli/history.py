"""``orchbench history DIR``: each strategy's median wall time across the commits of a directory of results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchbench.errors import UsageError
from orchbench.support.console import say


def history_command(
    directory: Annotated[Path, typer.Argument(help="A directory of results files (e.g. one per commit, from CI).")],
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Where to write the HTML page with the plot (default: DIR/history.html)."),
    ] = None,
) -> int:
    """The trend of each strategy's median wall time across commits, its significant changes, and the commit that
    made it slower; also as an HTML page with a plot."""
    from orchbench.harness.overwrite import refuse_overwrites
    from orchbench.results import history
    from orchbench.support.atomic import write_text

    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory of results files")
    page = html or directory / "history.html"
    refuse_overwrites({"--html": page}, {"a results file of DIR": sorted(directory.glob("*.json"))})
    series = history.build(history.load_directory(directory))
    history.render(series)
    write_text(page, history.to_html(series, str(directory)), "the history page")
    say(f"history: {page}")
    return 0


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
