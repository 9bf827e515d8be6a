"""Progress for long work: a rich bar on a terminal, plain lines otherwise or with --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from collections.abc import Iterator

from orchbench.harness.planner import PlannedRun
from orchbench.harness.session import Progress
from orchbench.types import RunResult


def _line(n: int, total: int, slot: PlannedRun, result: RunResult) -> str:
    phase = "warm-up" if slot.warmup else f"round {slot.round}"
    status = "ok" if result.ok else ("error: " + result.error if result.error else "WRONG or INCOMPLETE")
    return f"[{n}/{total}] {phase} {slot.strategy}: {result.wall_s:.3f} s, {status}"


@contextmanager
def progress_reporter(quiet: bool, total: int, what: str = "runs") -> Iterator[Progress]:
    """A progress callback: a rich bar when stderr is a terminal, else one plain line per run (none if quiet)."""
    if quiet:
        yield lambda *args: None
        return
    if not sys.stderr.isatty():
        yield lambda *args: print(_line(*args), file=sys.stderr, flush=True)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
             console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)

        def update(n: int, total: int, slot: PlannedRun, result: RunResult) -> None:
            bar.console.print(_line(n, total, slot, result), highlight=False)
            bar.update(task, completed=n, description=f"{what}: {slot.strategy}")

        yield update
