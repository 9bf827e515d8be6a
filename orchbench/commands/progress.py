"""Progress for long work: a live display on a terminal, plain lines otherwise, nothing with --quiet.

On a terminal one line is redrawn in place: the run now going (its round and strategy), runs done of all, the time
elapsed and an estimate of the time left. A run that is not ok is also printed above it, so no failure scrolls
away unseen. Off a terminal each finished run is one plain line, with the same estimate.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from orchbench.harness.planner import PlannedRun
from orchbench.harness.session import Progress
from orchbench.types import RunResult

A_DAY = 86_400.0  # the estimate averages over every finished run, not only the last 30 s as rich's default does


def _phase(slot: PlannedRun, rounds: int | None) -> str:
    if slot.warmup:
        return "warm-up"
    return f"round {slot.round}/{rounds}" if rounds else f"round {slot.round}"


def _status(result: RunResult) -> str:
    return "ok" if result.ok else ("error: " + result.error if result.error else "WRONG or INCOMPLETE")


def _left(elapsed: float, done: int, total: int) -> str:
    seconds = round(elapsed / done * (total - done)) if done else 0
    minutes, secs = divmod(seconds, 60)
    return f"~{minutes}:{secs:02d} left" if done < total else "done"


def _line(n: int, total: int, slot: PlannedRun, result: RunResult, rounds: int | None = None) -> str:
    """One run's progress line, shown as text: its error may quote a server's answer."""
    from orchbench.console import safe_text

    return safe_text(f"[{n}/{total}] {_phase(slot, rounds)} {slot.strategy}: {result.wall_s:.3f} s, {_status(result)}")


@contextmanager
def progress_reporter(
    quiet: bool, total: int, what: str = "runs", order: Sequence[PlannedRun] | None = None, console: Any = None
) -> Iterator[Progress]:
    """A progress callback. ``order`` (the planned runs) lets the display name the run going on now; ``console``
    (a rich console) replaces standard error, e.g. in tests."""
    rounds = max((s.round for s in order or () if not s.warmup), default=None)
    if quiet:
        yield lambda *args: None
        return
    terminal = console.is_terminal if console is not None else sys.stderr.isatty()
    if not terminal:
        start = time.monotonic()

        def plain(n: int, total: int, slot: PlannedRun, result: RunResult) -> None:
            line = f"{_line(n, total, slot, result, rounds)} ({_left(time.monotonic() - start, n, total)})"
            if console is not None:
                console.print(line, highlight=False, markup=False)
            else:
                print(line, file=sys.stderr, flush=True)

        yield plain
        return
    yield from _live(total, what, order, rounds, console)


def _live(
    total: int, what: str, order: Sequence[PlannedRun] | None, rounds: int | None, console: Any
) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Display

    from orchbench.console import safe_markup

    def now(slot: PlannedRun | None) -> str:
        return safe_markup(f"{_phase(slot, rounds)} · {slot.strategy}") if slot else what

    display = Display(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(what),
        TimeElapsedColumn(),
        TextColumn("elapsed ·"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=console or Console(stderr=True),
        transient=True,
        speed_estimate_period=A_DAY,
    )
    with display:
        task = display.add_task(now(order[0] if order else None), total=total)

        def update(n: int, total: int, slot: PlannedRun, result: RunResult) -> None:
            if not result.ok:
                display.console.print(_line(n, total, slot, result, rounds), highlight=False, markup=False)
            following = order[n] if order is not None and n < len(order) else None
            display.update(task, completed=n, description=now(following) if following else "finishing", refresh=True)

        yield update
