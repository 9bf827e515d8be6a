"""Progress: a live line on a terminal naming the run going on, plain lines elsewhere, nothing when quiet."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from orchbench.harness.planner import plan
from orchbench.types import RunResult
from orchbench.views.progress import Estimate, clock, probe_reporter, progress_reporter

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


def test_the_estimate_knows_each_strategy_s_pace_where_an_average_over_every_run_is_far_off():
    """Two strategies, 1 s and 3 s a run, in rotating rounds (A H, H A, A H): a plain average over the runs so far
    puts the slow runs side by side mid-way and over-estimates; the estimate per strategy is exact."""
    order = plan(["fast", "slow"], iterations=3, warmup=0)
    took = {"fast": 1.0, "slow": 3.0}
    moment = [0.0]
    estimate = Estimate([("", slot.strategy) for slot in order], now=lambda: moment[0])
    worst_average = 0.0
    for n, slot in enumerate(order, 1):
        moment[0] += took[slot.strategy]
        estimate.finished(n)
        truth = sum(took[s.strategy] for s in order[n:])
        average = moment[0] / n * (len(order) - n)
        if truth:
            worst_average = max(worst_average, average / truth - 1)
        if {s.strategy for s in order[:n]} == set(took):  # once each strategy has run once
            assert estimate.left() == pytest.approx(truth)
    assert estimate.text() == "done"
    assert worst_average > 0.3  # what the old estimate did mid-way


def test_a_sweep_point_with_no_run_yet_takes_the_strategy_s_latest_pace():
    moment = [0.0]
    keys = [("c=1", "a"), ("c=1", "b"), ("c=4", "a"), ("c=4", "b")]
    estimate = Estimate(keys, now=lambda: moment[0])
    moment[0] = 4.0
    estimate.finished(1)
    moment[0] = 5.0
    estimate.finished(2)
    assert estimate.left() == pytest.approx(4.0 + 1.0)
    assert clock(3725) == "1:02:05" and clock(65) == "1:05"


def test_one_progress_across_the_points_of_a_sweep_names_the_point():
    one = plan(["sequential", "threads"], iterations=1, warmup=0)
    order, points = one * 2, ["concurrency=1"] * 2 + ["concurrency=4"] * 2
    out = io.StringIO()
    with progress_reporter(False, 4, order=order, console=Console(file=out, width=120), points=points) as progress:
        for n, slot in enumerate(order, 1):
            progress(n, 4, slot, RunResult(spec={}, complete=True, correct=True, wall_s=0.1))
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert "concurrency=4 round 1/1 sequential" in lines[2] and lines[-1].endswith("(done)")


def test_tuning_probes_say_the_most_time_tuning_may_still_take(capsys):
    strategies = probe_reporter(False, strategies=2, runs=4, seconds=None)
    first = strategies()
    first("tune threads: workers=4: 0.500 s")
    err = capsys.readouterr().err
    assert err.startswith("tune threads: workers=4: 0.500 s (tuning: at most ~") and err.strip().endswith("left)")
    quiet = probe_reporter(True, strategies=1, runs=4, seconds=None)()
    quiet("tune x: y: 1 s")
    assert capsys.readouterr().err == ""


def test_the_noisy_machine_warning_wraps_at_whole_words_on_a_terminal(monkeypatch):
    from orchbench.harness import noise

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setenv("COLUMNS", "40")
    reason = "load average 11.04 on 2 cores: other work shares the cores"
    noise.warn([reason])
    text = err.getvalue()
    lines = text.splitlines()
    assert len(lines) > 1 and max(map(len, lines)) <= 40
    tokens = {t for line in lines for t in line.split()}
    assert set(reason.split()) <= tokens and "`orchbench" in tokens
