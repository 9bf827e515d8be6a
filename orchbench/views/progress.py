"""Progress for long work: a live display on a terminal, plain lines otherwise, nothing with --quiet.

On a terminal one line is redrawn in place: the run now going (its point of a sweep, round and strategy), runs done
of all, the time elapsed and an estimate of the time left. A run that is not ok is also printed above it, so no
failure scrolls away unseen. Off a terminal each finished run is one plain line, with the same estimate.

The estimate (:class:`Estimate`) knows the plan: each run still to come is expected to take as long as the finished
runs of the same strategy (at the same point of a sweep) took. An average over all finished runs is biased
whenever strategies differ in speed: the rotating order puts a slow strategy's runs next to each other, and a sweep
runs its slow points first.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from orchbench.harness.planner import PlannedRun
from orchbench.harness.session import Progress
from orchbench.types import RunResult


def _phase(slot: PlannedRun, rounds: int | None) -> str:
    if slot.warmup:
        return "warm-up"
    return f"round {slot.round}/{rounds}" if rounds else f"round {slot.round}"


def _status(result: RunResult) -> str:
    return "ok" if result.ok else ("error: " + result.error if result.error else "WRONG or INCOMPLETE")


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Estimate:
    """The time left of a planned sequence of runs, each keyed (e.g. by point and strategy).

    A run still to come is expected to take the mean time of the finished runs of its key; a key with none yet
    takes that of the latest finished run of the same strategy (the nearest point of a sweep), else the mean of
    every finished run. A run's time is from the end of the one before it (the first: from the start), so the
    start-up of its process and everything between runs count."""

    def __init__(self, keys: Sequence[tuple[str, str]], now: Callable[[], float] = time.monotonic) -> None:
        self.keys = list(keys)
        self.now = now
        self.last = now()
        self.times: dict[tuple[str, str], list[float]] = {}
        self.latest: dict[str, float] = {}  # strategy → its latest finished run's time
        self.done = 0

    def finished(self, n: int) -> None:
        """Runs 1..``n`` are done (``n`` counts from 1)."""
        moment = self.now()
        took, self.last = moment - self.last, moment
        for key in self.keys[self.done : n]:
            share = took / max(1, n - self.done)
            self.times.setdefault(key, []).append(share)
            self.latest[key[1]] = share
        self.done = max(self.done, n)

    def left(self) -> float | None:
        """Seconds still to go; None before any run finished."""
        every = [t for times in self.times.values() for t in times]
        if not every:
            return None
        overall = sum(every) / len(every)
        total = 0.0
        for key in self.keys[self.done :]:
            times = self.times.get(key)
            total += sum(times) / len(times) if times else self.latest.get(key[1], overall)
        return total

    def text(self) -> str:
        if self.done >= len(self.keys):
            return "done"
        left = self.left()
        return "time left unknown" if left is None else f"~{clock(left)} left"


def _line(n: int, total: int, slot: PlannedRun, result: RunResult, rounds: int | None, point: str) -> str:
    """One run's progress line, shown as text: its error may quote a server's answer."""
    from orchbench.support.console import safe_text

    where = f"{point} " if point else ""
    return safe_text(
        f"[{n}/{total}] {where}{_phase(slot, rounds)} {slot.strategy}: {result.wall_s:.3f} s, {_status(result)}"
    )


@contextmanager
def progress_reporter(
    quiet: bool,
    total: int,
    what: str = "runs",
    order: Sequence[PlannedRun] | None = None,
    console: Any = None,
    points: Sequence[str] | None = None,
    now: Callable[[], float] = time.monotonic,
) -> Iterator[Progress]:
    """A progress callback. ``order`` (the planned runs) lets the display name the run going on now and estimate
    the time left run by run; ``points`` (one per planned run, e.g. ``concurrency=4``) names the point of a sweep
    each belongs to. ``console`` (a rich console) replaces standard error, e.g. in tests."""
    rounds = max((s.round for s in order or () if not s.warmup), default=None)
    if quiet:
        yield lambda *args: None
        return
    labels = list(points) if points is not None else [""] * len(order or ())
    keys = [(label, slot.strategy) for label, slot in zip(labels, order or (), strict=True)]
    estimate = Estimate(keys or [("", "")] * total, now)
    terminal = console.is_terminal if console is not None else sys.stderr.isatty()
    if not terminal:

        def plain(n: int, total: int, slot: PlannedRun, result: RunResult) -> None:
            estimate.finished(n)
            point = labels[n - 1] if n <= len(labels) else ""
            line = f"{_line(n, total, slot, result, rounds, point)} ({estimate.text()})"
            if console is not None:
                console.print(line, highlight=False, markup=False)
            else:
                print(line, file=sys.stderr, flush=True)

        yield plain
        return
    yield from _live(total, what, order, rounds, labels, estimate, console)


def _live(
    total: int,
    what: str,
    order: Sequence[PlannedRun] | None,
    rounds: int | None,
    labels: list[str],
    estimate: Estimate,
    console: Any,
) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, SpinnerColumn, TextColumn
    from rich.progress import Progress as Display
    from rich.text import Text

    from orchbench.support.console import safe_markup

    class Left(ProgressColumn):
        """The estimate, counted down between runs."""

        def render(self, task: Any) -> Text:
            finish = task.fields.get("finish")
            if finish is None:
                return Text("time left unknown")
            return Text(f"~{clock(max(0.0, finish - estimate.now()))} left")

    class Elapsed(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{clock(task.elapsed or 0.0)} elapsed ·")

    def now(index: int) -> str:
        if order is None or index >= len(order):
            return what if index == 0 else "finishing"
        slot, point = order[index], labels[index] if index < len(labels) else ""
        return safe_markup(" · ".join(p for p in (point, _phase(slot, rounds), slot.strategy) if p))

    display = Display(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(what),
        Elapsed(),
        Left(),
        console=console or Console(stderr=True, emoji=False),
        transient=True,
    )
    with display:
        task = display.add_task(now(0), total=total, finish=None)

        def update(n: int, total: int, slot: PlannedRun, result: RunResult) -> None:
            estimate.finished(n)
            if not result.ok:
                point = labels[n - 1] if n <= len(labels) else ""
                display.console.print(_line(n, total, slot, result, rounds, point), highlight=False, markup=False)
            left = estimate.left()
            finish = None if left is None else estimate.now() + left
            display.update(task, completed=n, description=now(n), finish=finish, refresh=True)

        yield update


def probe_reporter(quiet: bool, strategies: int, runs: int | None, seconds: float | None) -> Callable[[], Any]:
    """For tuning: a factory called once per tuned strategy, giving the callback that prints its probe lines, each
    ending with the most time tuning may still take. Every strategy may spend ``runs`` probes or ``seconds``; a
    probe is expected to take as long as the probes so far took on average."""
    started, probes, spent_before = time.monotonic(), [0], [0.0]
    strategy = [0]

    def next_strategy() -> Callable[[str], None]:
        strategy[0] += 1
        spent_before[0] = time.monotonic() - started
        here = [0]

        def report(line: str) -> None:
            here[0] += 1
            probes[0] += 1
            elapsed = time.monotonic() - started
            later = strategies - strategy[0]
            if seconds is not None:
                mine = elapsed - spent_before[0]
                most = max(0.0, seconds - mine) + later * seconds
            else:
                assert runs is not None
                most = (max(0, runs - here[0]) + later * runs) * elapsed / probes[0]
            print(f"{line} (tuning: at most ~{clock(most)} left)", file=sys.stderr, flush=True)

        return (lambda line: None) if quiet else report

    return next_strategy
