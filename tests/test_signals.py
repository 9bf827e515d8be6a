"""SIGTERM, SIGHUP and Ctrl-C at chosen moments of `run`, `compare` and `profile`, sent for real to a real process
tree.

Each case starts orchbench in a session of its own, records every process of its tree while it runs, signals it
at a moment (while starting, once its run process exists, once pool workers or the embedded scoring server run,
between compare runs), and then checks: it ended with the conventional status (143 after SIGTERM, 129 after
SIGHUP, 130 after Ctrl-C) and one clear last line, no process of its tree survives, and any results file parses
completely.
Where a choice is free (whom to signal: the process alone, as ``kill PID`` does, or its whole group, as a
terminal or a service manager does; an extra delay) it is drawn from a seeded random generator; set
ORCHBENCH_SIGNAL_SEED to replay another draw. The long randomized version is marked slow.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from orchbench.results import document as results

SEED = int(os.environ.get("ORCHBENCH_SIGNAL_SEED", "20261123"))
HANG_GUARD_S = 240  # not a speed threshold: only how long to wait before calling a run hung
ENDLESS = ["--test-case", "10k", "--scenario", "none", "--cpu-ms", "50", "--no-memo"]  # minutes of CPU

Moment = Callable[[list[psutil.Process], str], bool]


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _cmdlines(tree: list[psutil.Process]) -> list[str]:
    return [_cmdline(proc) for proc in tree]


def at_once(tree: list[psutil.Process], err: str) -> bool:
    return True


def run_process_exists(tree: list[psutil.Process], err: str) -> bool:
    return any("orchbench.harness.child" in line or "-m orchbench.harness.profile" in line for line in _cmdlines(tree))


def fork_server_starts(tree: list[psutil.Process], err: str) -> bool:
    return any("forkserver" in line for line in _cmdlines(tree))


def pool_workers_run(tree: list[psutil.Process], err: str) -> bool:
    return sum("forkserver" in line for line in _cmdlines(tree)) >= 3  # the fork server and two workers


def scoring_server_runs(tree: list[psutil.Process], err: str) -> bool:
    return any("orchbench.workloads.scoring.server" in line for line in _cmdlines(tree))


def first_run_done(tree: list[psutil.Process], err: str) -> bool:
    return "[1/" in err


def ray_actors_busy(tree: list[psutil.Process], err: str) -> bool:
    return any("ray::BatchWorker.run_batch" in line for line in _cmdlines(tree))


def second_runs_pool_works(tree: list[psutil.Process], err: str) -> bool:
    return first_run_done(tree, err) and pool_workers_run(tree, err)


MOMENTS: dict[str, Moment] = {
    "start-up": at_once,
    "run process": run_process_exists,
    "fork server": fork_server_starts,
    "pool workers": pool_workers_run,
    "scoring server": scoring_server_runs,
    "between runs": first_run_done,
    "ray actors busy": ray_actors_busy,
    "second run's pool": second_runs_pool_works,
}


@dataclass
class Ending:
    code: int
    out: str
    err: str
    seen: list[psutil.Process] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # the command lines of the tree's processes, as seen
    alive: list[psutil.Process] = field(default_factory=list)
    signalled: bool = True
    exit_after_s: float | None = None  # from the signal to the command's exit (a figure to report, not to assert)


def signal_at(
    args: list[str],
    moment: str,
    sig: int,
    whole_group: bool,
    delay_s: float,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> Ending:
    """Run ``orchbench ARGS``; at ``moment`` (plus ``delay_s``) send ``sig`` to it or to its whole group."""
    out_path, err_path = cwd / "stdout.txt", cwd / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchbench", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env=env,
        )
    root = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    commands: dict[int, str] = {}
    sent_at: float | None = None
    signalled = False
    deadline = time.monotonic() + HANG_GUARD_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                tree = []
            for p in tree:
                seen.setdefault(p.pid, p)
            commands.update((p.pid, line) for p in tree if (line := _cmdline(p)))  # the latest: a fork execs
            if sent_at is None and MOMENTS[moment](tree, err_path.read_text(errors="replace")):
                sent_at = time.monotonic() + delay_s
            if sent_at is not None and time.monotonic() >= sent_at:
                (os.killpg if whole_group else os.kill)(proc.pid, sig)
                signalled, sent = True, time.monotonic()
                break
            time.sleep(0.02)
        while proc.poll() is None and time.monotonic() < deadline:  # keep recording what starts while it stops
            try:
                for p in root.children(recursive=True):
                    seen.setdefault(p.pid, p)
            except psutil.Error:
                pass
            time.sleep(0.02)
        hung = proc.poll() is None
        exit_after_s = time.monotonic() - sent if signalled and not hung else None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    others = [p for pid, p in seen.items() if pid != proc.pid]
    _gone, alive = psutil.wait_procs(others, timeout=10)  # reaping by their own parents may take a moment
    for p in alive:
        p.kill()
    ending = Ending(
        proc.returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        others,
        list(commands.values()),
        alive,
        signalled,
        exit_after_s,
    )
    assert not hung, f"still running {HANG_GUARD_S} s after the signal: {ending.err[-2000:]}"
    return ending


def check_clean_end(ending: Ending, sig: int, *, may_die_unhandled: bool = False) -> None:
    """The conventional status, one clear last line, no traceback, and no process of the tree left."""
    assert ending.signalled, f"the command ended before it was signalled: {ending.err[-2000:]}"
    print(f"exit status {ending.code}, {ending.exit_after_s:.2f} s after the signal")  # a figure, shown with -s
    expected = {128 + sig} | ({-sig} if may_die_unhandled else set())
    assert ending.code in expected, (ending.code, ending.err[-2000:])
    assert "Traceback" not in ending.err, ending.err
    if ending.code > 0:
        last = [line for line in ending.err.splitlines() if line.strip()][-1]
        word = {signal.SIGTERM: "terminated (SIGTERM)", signal.SIGHUP: "hung up (SIGHUP)"}.get(sig, "interrupted")
        assert last.startswith(f"orchbench: {word}"), ending.err
    assert ending.alive == [], [(p.pid, p.name()) for p in ending.alive]


def check_results_file(path: Path, *, must_exist: bool = False) -> dict | None:
    """A results file is either absent or complete: it parses, and says whether its runs are all there."""
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers
    if not path.exists():
        assert not must_exist, f"{path} was not written"
        return None
    document = results.load(path)
    assert document["settings"]["complete"] is False
    assert len(document["runs"]) < len(document["order"])
    return document


def _draw(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


# --- the default run: a few moments, one case each -------------------------------------------------------------


def test_sigterm_mid_map_of_a_process_pool_run(tmp_path):
    rng = _draw("run")
    whole_group = rng.random() < 0.5
    ending = signal_at(
        ["run", "processes", *ENDLESS], "pool workers", signal.SIGTERM, whole_group, rng.uniform(0, 0.5), tmp_path
    )
    check_clean_end(ending, signal.SIGTERM)
    assert sum("forkserver" in line for line in ending.commands) >= 3  # workers really ran, and are gone


def test_ctrl_c_while_the_fork_server_imports(tmp_path):
    """The fork server imports the harness and builds the anagram index before it ignores Ctrl-C; a Ctrl-C to
    the whole group then must still end the run as one clean interruption, with no traceback from the server."""
    ending = signal_at(["run", "hybrid", *ENDLESS], "fork server", signal.SIGINT, True, 0.0, tmp_path)
    check_clean_end(ending, signal.SIGINT)


def test_sigterm_to_the_cli_alone_during_start_up(tmp_path):
    """Before orchbench has installed its handler SIGTERM simply ends it (status -15); after, it is handled."""
    rng = _draw("start-up")
    ending = signal_at(
        ["run", "processes", *ENDLESS, "--json"], "start-up", signal.SIGTERM, False, rng.uniform(0.0, 1.5), tmp_path
    )
    check_clean_end(ending, signal.SIGTERM, may_die_unhandled=True)
    assert ending.out == ""  # no half-written --json result


def test_sigterm_landing_in_exec_built_code_still_ends_with_the_conventional_status(tmp_path):
    """Start-up runs much code that exec() builds (dataclasses' methods); an interrupt raised there and handled
    must still end a `python -m` process with 143, not a death by SIGINT."""
    (tmp_path / "ends_inside_exec.py").write_text(
        "import os, signal, sys\n"
        "from orchbench.support import interrupts\n"
        "interrupts.install()\n"
        "try:\n"
        "    exec('os.kill(os.getpid(), signal.SIGTERM)\\nwhile True: pass')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(interrupts.exit_status())\n"
    )
    ended = subprocess.run([sys.executable, "-m", "ends_inside_exec"], cwd=tmp_path, timeout=60)
    assert ended.returncode == 143


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_is_held_to_the_end_of_a_deferred_block_in_a_run_process(tmp_path, sig):
    """A run process leaves Ctrl-C to Python's default handler (asyncio takes it over); a deferred block there (a
    result being written, a pool worker being started) still finishes before the interrupt takes effect."""
    (tmp_path / "held.py").write_text(
        "import os, signal, sys\n"
        "from orchbench.support import interrupts\n"
        "interrupts.install(own_sigint=False)\n"
        "try:\n"
        "    with interrupts.deferred():\n"
        f"        os.kill(os.getpid(), {int(sig)})\n"
        "        print('block finished', flush=True)\n"
        "    print('not reached', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(interrupts.exit_status())\n"
    )
    ended = subprocess.run([sys.executable, "-m", "held"], cwd=tmp_path, timeout=60, capture_output=True, text=True)
    assert ended.stdout == "block finished\n", ended.stderr
    assert ended.returncode == 128 + sig


def test_sigterm_between_compare_runs_keeps_a_complete_file_marked_incomplete(tmp_path):
    rng = _draw("compare")
    out = tmp_path / "results" / "partial.json"
    ending = signal_at(
        [
            "compare",
            "--strategies",
            "sequential",
            "processes",
            "--test-case",
            "small",
            "--scenario",
            "none",
            "--iterations",
            "3",
            "--warmup",
            "0",
            "--output",
            str(out),
        ],
        "between runs",
        signal.SIGTERM,
        rng.random() < 0.5,
        0.0,
        tmp_path,
    )
    check_clean_end(ending, signal.SIGTERM)
    document = check_results_file(out, must_exist=True)
    assert document["runs"] and all(run["correct"] for run in document["runs"])
    assert "runs kept in" in ending.err and "marked incomplete" in ending.err


@pytest.mark.parametrize(
    "whole_group", [pytest.param(False, marks=pytest.mark.slow), True], ids=["cli-alone", "whole-group"]
)
def test_a_hang_up_mid_compare_stops_everything_and_keeps_the_finished_runs(tmp_path, whole_group):
    """A closed terminal (SIGHUP to the whole group) or a dropped session (to orchbench alone) while the second
    run's pool works: status 129, no process left, no temporary run directory left, the first run kept."""
    temp = Path(tempfile.mkdtemp(prefix="hup-"))  # short: the fork server's socket path must fit AF_UNIX's limit
    out = tmp_path / "results" / "partial.json"
    env = {**os.environ, "TMPDIR": str(temp)}
    ending = signal_at(
        [
            "compare",
            "--strategies",
            "sequential",
            "processes",
            "--test-case",
            "medium",
            "--scenario",
            "none",
            "--cpu-ms",
            "40",
            "--no-memo",
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--output",
            str(out),
        ],
        "second run's pool",
        signal.SIGHUP,
        whole_group,
        0.0,
        tmp_path,
        env,
    )
    check_clean_end(ending, signal.SIGHUP)
    document = check_results_file(out, must_exist=True)
    assert [run["spec"]["strategy"] for run in document["runs"]] == ["sequential"]
    leftovers = list(temp.glob("orchbench-run-*"))
    shutil.rmtree(temp, ignore_errors=True)
    assert leftovers == []


def test_sigterm_while_the_embedded_scoring_server_serves(tmp_path):
    rng = _draw("scoring")
    out = tmp_path / "scoring.json"
    ending = signal_at(
        [
            "compare",
            "--workload",
            "scoring",
            "--strategies",
            "sequential",
            "--test-case",
            "1k",
            "--iterations",
            "2",
            "--warmup",
            "0",
            "--output",
            str(out),
            "--quiet",
        ],
        "scoring server",
        signal.SIGTERM,
        rng.random() < 0.5,
        rng.uniform(0, 1.0),
        tmp_path,
    )
    check_clean_end(ending, signal.SIGTERM)
    assert any("orchbench.workloads.scoring.server" in line for line in ending.commands)
    check_results_file(out)


@pytest.mark.slow
def test_sigterm_during_a_memory_profile(tmp_path):
    pytest.importorskip("memray")
    rng = _draw("profile")
    out = tmp_path / "profile"
    ending = signal_at(
        ["profile", "--memory", "--strategies", "processes", *ENDLESS, "--out", str(out)],
        "pool workers",
        signal.SIGTERM,
        rng.random() < 0.5,
        rng.uniform(0, 0.5),
        tmp_path,
    )
    check_clean_end(ending, signal.SIGTERM)
    summary = out / "summary.json"
    if summary.exists():
        json.loads(summary.read_text())
    assert not (out / "summary.json.tmp").exists()


@pytest.mark.ray
def test_sigterm_to_the_cli_alone_stops_a_local_ray(tmp_path):
    """`kill PID` of orchbench while Ray actors work: the raylet and every Ray worker end with it."""
    pytest.importorskip("orchbench_ray", reason="the orchbench-ray plugin is not installed")
    rng = _draw("ray")
    env = {
        **{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
        "ORCHBENCH_PLUGINS": "orchbench-ray",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    ending = signal_at(
        ["run", "ray", *ENDLESS], "ray actors busy", signal.SIGTERM, False, rng.uniform(0, 1.0), tmp_path, env
    )
    check_clean_end(ending, signal.SIGTERM)
    assert any("raylet" in line for line in ending.commands)  # a local Ray really ran in the tree, and is gone


# --- the long version: many seeded draws over commands, moments, signals and targets -------------------------

SCENES = [
    (["run", "processes", *ENDLESS], ["start-up", "run process", "fork server", "pool workers"]),
    (["run", "threads", *ENDLESS], ["start-up", "run process"]),
    (["run", "asyncio", *ENDLESS], ["run process"]),
    (["run", "hybrid", *ENDLESS], ["fork server", "pool workers"]),
    (
        [
            "compare",
            "--strategies",
            "sequential",
            "processes",
            "--test-case",
            "small",
            "--scenario",
            "none",
            "--iterations",
            "4",
            "--warmup",
            "1",
        ],
        ["start-up", "run process", "between runs"],
    ),
    (
        [
            "compare",
            "--workload",
            "scoring",
            "--strategies",
            "asyncio",
            "threads",
            "--test-case",
            "small",
            "--iterations",
            "3",
            "--warmup",
            "0",
        ],
        ["scoring server", "between runs"],
    ),
    (["profile", "--memory", "--strategies", "processes", *ENDLESS], ["run process", "pool workers"]),
]


# Ctrl-C reaches every process of the group. orchbench starts its run processes with SIGINT held until they can
# handle it, but the orchbench command itself cannot be: during its own interpreter's first fraction of a second
# a Ctrl-C gets Python's KeyboardInterrupt traceback. So Ctrl-C is drawn only for moments after the command has
# started; SIGTERM, whose default action is silent, at any moment.
AFTER_START_UP = {"run process", "between runs", "fork server", "pool workers", "scoring server"}


@pytest.mark.slow
@pytest.mark.parametrize("draw", range(12))
def test_random_signals_at_random_moments(draw, tmp_path):
    rng = _draw(f"slow-{draw}")
    args, moments = rng.choice(SCENES)
    if args[0] == "profile":
        pytest.importorskip("memray")
    sig = rng.choice([signal.SIGTERM, signal.SIGINT])
    if sig == signal.SIGINT:  # see AFTER_START_UP
        moments = [m for m in moments if m in AFTER_START_UP] or moments
        sig = sig if set(moments) <= AFTER_START_UP else signal.SIGTERM
    moment = rng.choice(moments)
    whole_group = True if sig == signal.SIGINT else rng.random() < 0.5  # Ctrl-C reaches the whole group
    out = tmp_path / "out.json"
    if args[0] == "compare":
        args = [*args, "--output", str(out)]
    elif args[0] == "profile":
        args = [*args, "--out", str(tmp_path / "profile")]
    ending = signal_at(args, moment, sig, whole_group, rng.uniform(0, 1.0), tmp_path)
    if not ending.signalled:  # a short compare may end before a late moment: then it must have ended well
        assert ending.code == 0, ending.err
        return
    context = (
        f"seed {SEED}, draw {draw}: {' '.join(args)} / {moment} / {signal.Signals(sig).name} / group={whole_group}"
    )
    print(context)
    try:
        check_clean_end(ending, sig, may_die_unhandled=moment == "start-up")
        if args[0] == "compare":
            check_results_file(out)
    except AssertionError as exc:
        raise AssertionError(f"{context}: {exc}") from None
