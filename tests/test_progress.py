"""Progress: a live line on a terminal naming the run going on, plain lines elsewhere, nothing when quiet."""

from __future__ import annotations

import io

from rich.console import Console

from orchbench.commands.progress import progress_reporter
from orchbench.harness.planner import plan
from orchbench.types import RunResult

ORDER = plan(["sequential", "threads"], iterations=3, warmup=1)


def _feed(console: Console | None, quiet: bool = False) -> None:
    with progress_reporter(quiet, len(ORDER), order=ORDER, console=console) as progress:
        for n, slot in enumerate(ORDER, 1):
            ok = not (slot.strategy == "threads" and slot.round == 2 and not slot.warmup)
            result = RunResult(spec={"strategy": slot.strategy}, complete=ok, correct=ok, wall_s=0.25)
            progress(n, len(ORDER), slot, result)


def test_on_a_terminal_one_line_is_redrawn_with_the_run_going_on_and_the_time_left():
    out = io.StringIO()
    _feed(Console(file=out, force_terminal=True, width=120))
    text = out.getvalue()
    assert "\r" in text and "\x1b[2K" in text  # redrawn in place
    assert "warm-up · sequential" in text and "round 2/3 · threads" in text and "round 3/3 · sequential" in text
    assert f"{len(ORDER)}/{len(ORDER)}" in text and "elapsed" in text and "left" in text
    failures = [line for line in text.split("\n") if "WRONG or INCOMPLETE" in line]
    assert len(failures) == 1 and "[5/8] round 2/3 threads" in failures[0]  # printed once, kept above the display


def test_off_a_terminal_each_run_is_a_plain_line_and_quiet_is_silent():
    out = io.StringIO()
    _feed(Console(file=out, force_terminal=False, width=120))
    lines = out.getvalue().splitlines()
    assert len(lines) == len(ORDER) and "\x1b" not in out.getvalue()
    assert lines[0].startswith("[1/8] warm-up ") and "left)" in lines[0] and lines[-1].endswith("(done)")
    quiet = io.StringIO()
    _feed(Console(file=quiet, force_terminal=True), quiet=True)
    assert quiet.getvalue() == ""
