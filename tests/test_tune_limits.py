"""Where tuning must stop, refuse or keep the defaults: a setting that fails entirely ends the search, an
interrupted tuning keeps its probes, options that cannot work are refused before any probe, and a search that
cannot explore, or finds nothing faster than the defaults, says so and keeps them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchbench.harness.runner import execute
from orchbench.harness.tune import Probe, Search, TuneBudget, probe_runner
from orchbench.types import RunSpec
from tests.cli_here import cli_here
from tests.helpers import cli


def _lines(path: Path, n: int) -> str:
    path.write_text("".join(f"line {i} of the tuning test\n" for i in range(n)), encoding="utf-8")
    return str(path)


# --- a setting that fails entirely ----------------------------------------------------------------------------


@pytest.mark.adversarial("waits with no end")
def test_tuning_stops_at_the_first_setting_that_fails_entirely(tmp_path: Path) -> None:
    """A service that fails every request: it walked the whole range (12 probes, up to workers=2048)."""
    spec = RunSpec(
        "threads",
        workload="scoring",
        input_path=_lines(tmp_path / "in.txt", 16),
        retry="none",
        scenario="none",
        workload_options={"rate_500": 1.0},
    )
    search = Search("threads", {"workers": (1, 2048)}, probe_runner(spec, lambda s, _: execute(s)), TuneBudget(runs=24))
    tuning = search.run()
    assert len(tuning.probes) == 1 and tuning.probes[0].failed_all
    assert tuning.stopped is not None and tuning.stopped.startswith("every item failed at defaults")
    assert tuning.kept_defaults == tuning.stopped and tuning.chosen == tuning.default
    assert tuning.edges == []


@pytest.mark.adversarial("waits with no end")
def test_compare_says_why_tuning_stopped(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    done = cli(
        *("compare", "-s", "threads", "-w", "scoring", "--scenario", "none", "--set", "rate_500=1"),
        *("--input", _lines(tmp_path / "in.txt", 8), "--retry", "none", "-n", "1", "--warmup", "0", "--tune"),
        *("-o", str(out), "--format", "markdown"),
    )
    assert done.returncode == 1, done.stderr  # no successful run: the comparison's own verdict
    assert "tune threads: stopped: every item failed at defaults" in done.stderr
    assert "threads: tuning kept the defaults: every item failed at defaults" in done.stdout
    tuning = json.loads(out.read_text())["settings"]["fairness"]["tuning"]["threads"]
    assert len(tuning["probes"]) == 1 and tuning["stopped"]


def landscape(walls: dict[Any, float | None], failed_all: bool = False):
    """A probe runner over a known curve: the wall of each setting (None: not ok). It stands for real runs where
    only the search's decisions are under test (real timings cannot be made to order)."""

    def run_probe(options: dict[str, Any], deadline_s: float | None) -> tuple[Probe, dict[str, Any], int]:
        wall = walls.get(options.get("workers"), walls.get("other"))
        ok = wall is not None
        probe = Probe(dict(options), wall, wall or 1.0, ok, None if ok else "3 of 100 items failed")
        probe.failed_all = failed_all and not ok
        return probe, {"workers": None}, 100

    return run_probe


def test_a_walk_where_nothing_is_ok_ends_at_once_and_keeps_the_defaults() -> None:
    """Every setting loses a few items (not all): before, equal failures never ended a walk."""
    tuning = Search("t", {"workers": (1, 2048)}, landscape({"other": None}), TuneBudget(runs=40)).run()
    assert len(tuning.probes) <= 8, [p.options for p in tuning.probes]
    assert tuning.kept_defaults == "no setting probed ran every item correctly"
    assert tuning.chosen == tuning.default


# --- 29 #3: nothing to explore, or nothing faster than the defaults ------------------------------------------


def test_a_pick_slower_than_the_defaults_is_not_taken() -> None:
    """The defaults (worked out at run time) beat every explicit setting: the defaults are kept, and said."""
    walls = {None: 1.0, "other": 1.5}
    tuning = Search("t", {"workers": (1, 64)}, landscape(walls), TuneBudget(runs=40)).run()
    assert tuning.kept_defaults is not None and tuning.kept_defaults.startswith("no setting was faster than the")
    assert "defaults: 1.000 s" in tuning.kept_defaults and tuning.chosen == tuning.default


def test_a_pick_faster_than_the_defaults_is_taken() -> None:
    walls = {None: 1.0, 2: 0.5, "other": 1.5}
    tuning = Search("t", {"workers": (1, 64)}, landscape(walls), TuneBudget(runs=40)).run()
    assert tuning.kept_defaults is None and tuning.chosen == {"workers": 2}


def test_a_range_of_one_value_is_not_searched_and_compare_says_so(tmp_path: Path) -> None:
    """The small case has one word: every knob's range is capped at 1–1."""
    out = tmp_path / "c.json"
    ran = cli_here(
        *("compare", "-s", "threads", "-t", "small", "--scenario", "none", "-n", "1", "--warmup", "0"),
        *("--tune", "-o", str(out), "-q", "--format", "markdown"),
    )
    assert ran.code == 0, ran.err
    tuning = json.loads(out.read_text())["settings"]["fairness"]["tuning"]["threads"]
    assert len(tuning["probes"]) == 1 and tuning["ranges"] == {"workers": [1, 1]}
    assert tuning["kept_defaults"] == "nothing to explore: workers can only be 1 (the input has 1 distinct item)"
    assert "threads: tuning kept the defaults: nothing to explore" in ran.out
    measured = json.loads(out.read_text())["runs"][0]["spec"]["strategy_options"]
    assert measured == {}  # compared at its defaults


# --- refused before any work ---------------------------------------------------------------------------------


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compare", "-s", "threads", "--tune", "-n", "0"], "iterations must be a whole number of at least 1"),
        (["compare", "-s", "threads", "--tune", "--warmup", "-1"], "warmup must be a whole number"),
        (["compare", "-s", "threads", "--tune-budget", "5"], "--tune-budget 5 works only with --tune"),
        (["compare", "-s", "threads", "--tune", "--tune-budget", "lots"], "--tune-budget 'lots'"),
        (["benchmark", "-s", "threads", "--tune-budget", "60s"], "--tune-budget 60s works only with --tune"),
        (["benchmark", "-s", "threads", "--tune", "-n", "0"], "iterations must be a whole number of at least 1"),
    ],
)
def test_tuning_options_that_cannot_work_are_refused_before_any_probe(no_runs, args, fragment):
    ran = cli_here(*args, "-t", "small")
    assert ran.code == 2 and "Traceback" not in ran.err, ran.err
    lines = ran.lines()
    assert len(lines) == 1 and fragment in lines[0], ran.err


# --- Ctrl-C while tuning --------------------------------------------------------------------------------------


@pytest.mark.adversarial("waits with no end")
def test_an_interrupted_tuning_keeps_its_probes_and_says_where(tmp_path: Path) -> None:
    """Ctrl-C after the first probes: it kept nothing."""
    out = tmp_path / "c.json"
    args = [
        *("compare", "-s", "threads", "-w", "scoring", "--input", _lines(tmp_path / "in.txt", 64)),
        *("--set", "latency_median=0.05", "--set", "latency_sigma=0", "--scenario", "none"),
        *("-n", "1", "--warmup", "0", "--tune", "-o", str(out), "--format", "markdown"),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "orchbench", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # Ctrl-C reaches the whole group, as from a terminal
    )
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if sum(line.startswith("tune threads: ") for line in seen) >= 2 or not line:
            break
    os.killpg(process.pid, signal.SIGINT)
    try:
        rest_out, rest_err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    err = "".join(seen) + rest_err
    assert process.returncode == 130, err
    assert "tuning interrupted: its " in err and f"probes are kept in {out}" in err, err
    tuning = json.loads(out.read_text())["settings"]["fairness"]["tuning"]["threads"]
    assert tuning["interrupted"] and len(tuning["probes"]) >= 2
    assert json.loads(out.read_text())["settings"]["complete"] is False


# --- a knob's declared range, checked against its declaration -------------------------------------------------

PLUGIN = """
import orchbench
from orchbench.strategies.sequential import Sequential


class Knobbed(Sequential):
    name = "{name}"
    description = "sequential, with a knob declared for --tune"
    options = {{"knob": orchbench.Option({declaration})}}


@orchbench.hookimpl
def orchbench_strategies():
    return [Knobbed]
"""


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize(
    ("declaration", "fragment"),
    [
        ("bool, False, 'a flag', tune=(1, 8)", "the option is a bool"),
        ("int, None, 'a count', min=1, max=4, tune=(8, 64)", "no whole number from 0 up is left"),
        ("float, None, 'a share', min=0, max=1, tune=(0.2, 0.8)", "no whole number from 0 up is left"),
        ("int, None, 'a count', tune=(1, float('inf'))", "two finite numbers"),
    ],
)
def test_a_tune_range_its_option_cannot_take_is_refused_before_any_probe(tmp_path, no_runs, declaration, fragment):
    name = f"knobbed_{abs(hash(declaration)) % 10**8}"  # plugins stay loaded in this process: one name per case
    plugin = tmp_path / f"{name}.py"
    plugin.write_text(PLUGIN.format(declaration=declaration, name=name), encoding="utf-8")
    ran = cli_here("compare", "-p", str(plugin), "-s", name, "-t", "small", "--tune", "-q")
    assert ran.code == 2 and "Traceback" not in ran.err, ran.err
    lines = ran.lines()
    assert len(lines) == 1 and "option knob declares tune=" in lines[0] and fragment in lines[0], ran.err


def test_a_tune_range_is_kept_within_the_options_bounds():
    from orchbench.api import Option, Strategy
    from orchbench.harness.tune import tunable_knobs

    class Bounded(Strategy):
        name = "bounded"
        options = {"workers": Option(int, None, min=2, max=100, tune=(1, 2048)), "other": Option(int, 3)}

    assert tunable_knobs(Bounded, {}) == {"workers": (2, 100)}
    assert tunable_knobs(Bounded, {"workers": 5}) == {}  # set by the user: not searched
