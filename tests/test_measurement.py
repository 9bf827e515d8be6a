"""The instrument against known work (the calibrate workload) and against the kernel's own figures of the same run.

No figure here is a speed: CPU is the work's own CPU clock, memory the bytes it wrote, so a loaded machine
stretches the runs but cannot fail the tests.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchbench import usable_cores
from orchbench.harness import noise, window
from orchbench.harness.isolate import run_isolated
from orchbench.harness.latency import LatencySummary
from orchbench.types import RunResult, RunSpec
from orchbench.workloads.calibrate.check import judge

MIB = 2**20


def calibrate(strategy: str = "sequential", strategy_options: dict | None = None, **options) -> RunResult:
    spec = RunSpec(
        strategy,
        workload="calibrate",
        scenario="none",
        workload_options=options,
        strategy_options=strategy_options or {},
    )
    result = run_isolated(spec)
    assert result.ok, result.error
    assert result.elapsed_s is not None and result.elapsed_s >= result.wall_s
    return result


def cpu_bound(result: RunResult) -> float:
    """The most CPU the tree can have used in the window: every core, the whole wall time."""
    return usable_cores() * result.wall_s + result.cpu_granularity_s


@pytest.mark.parametrize("held_s", [0.05, 2.0])
def test_peak_rise_is_the_memory_held(held_s):
    held = 64
    result = calibrate(hold_mib=held, sleep_s=held_s)
    rise = (result.peak_rss - result.base_rss) / MIB
    assert abs(rise - held) <= 1 + 0.01 * held
    assert result.peak_rss == result.peak_rss_bound or abs(result.peak_rss - result.peak_rss_bound) <= MIB
    assert result.end_uss is not None and result.peak_uss >= result.end_uss
    # a full listen queue is counted machine-wide: another test's flood beside this one is not this run's
    assert [note for note in result.measure_notes if not note.startswith("the kernel dropped")] == []


def test_single_process_peak_equals_the_kernels_high_water_mark():
    """The whole command's descendants, reaped, give the kernel's ru_maxrss: the run process's, as it holds most."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "out = subprocess.run([sys.executable, '-m', 'orchbench', *sys.argv[1:]], capture_output=True).stdout\n"
        "sys.stdout.write(out.decode())\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            "run",
            "sequential",
            "-w",
            "calibrate",
            "--set",
            "hold_mib=160",
            "--set",
            "sleep_s=0.05",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    *result_lines, kernel = done.stdout.strip().splitlines()
    result = json.loads("\n".join(result_lines))
    assert abs(result["peak_rss"] - int(kernel)) <= MIB
    assert result["elapsed_s"] >= result["wall_s"]


def test_cpu_of_a_burn_is_the_cpu_burned():
    burned = 0.3
    result = calibrate(cpu_s=burned)
    assert abs(result.cpu_s - burned) <= max(0.05 * burned, 0.020)
    assert result.cpu_s <= cpu_bound(result)


def test_a_sleeping_run_uses_next_to_no_cpu():
    result = calibrate(sleep_s=0.5)
    assert result.cpu_s <= 0.020
    assert result.cpu_s <= cpu_bound(result)


def test_workers_born_and_reaped_inside_the_window_are_counted():
    """A process pool lives only inside the pipeline's map: its workers' CPU reaches the run only through the
    processes that reaped them; all of it is counted, and never more than the cores could give."""
    result = calibrate("processes", {"workers": 2}, items=4, cpu_s=0.1)
    assert result.cpu_s >= 4 * 0.1
    assert result.cpu_s <= cpu_bound(result)


@pytest.mark.skipif(noise.listen_overflows() is None, reason="the kernel here keeps no listen-overflow counter")
def test_connection_attempts_the_kernel_drops_inside_the_window_are_noted():
    """A listener that never accepts, with a queue of one: the kernel drops further connection attempts (clients
    would send them again a second later) and counts them, which the window notes beside its figures."""
    edges = window.Window()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        edges.open()
        clients = [socket.socket() for _ in range(8)]
        try:
            for client in clients:
                client.setblocking(False)
                client.connect_ex(listener.getsockname())
            edges.close()
        finally:
            for client in clients:
                client.close()
    [note] = [n for n in edges.notes if "connection attempts" in n]
    assert "a listen queue was full" in note and "a wait the wall time includes" in note
    assert int(note.split("dropped ")[1].split()[0].replace(",", "")) >= 1


def _reading(ppid: int, cpu: float, kids: float = 0.0) -> list:
    return [ppid, cpu, kids, 0, 0, None]


def test_window_cpu_counts_each_process_once_and_only_inside_the_window():
    start = {"1": _reading(0, 5.0), "2": _reading(1, 3.0), "3": _reading(1, 2.0)}
    end = {"1": _reading(0, 5.5, kids=2.4), "2": _reading(1, 3.2), "4": _reading(1, 0.7)}
    # 1: +0.5 own; its reaped children +2.4 (3 ended: 2.0 of it from before the window, so +0.4)
    # 2: +0.2; 4 born inside: +0.7; 5 born and ended inside, its parent 4 alive: inside 4's reaped time (0 here)
    # 8 ended, and its parent 5 too: reaped by 5, whose time reached 4 when 4 reaped it: counted there
    # 6 ended with no known ancestor alive (its parent 7 was never seen): its last sample, a lower bound
    seen = {5: (4, 0.1, None), 8: (5, 0.2, None), 6: (7, 0.3, None)}
    assert window.cpu_seconds(start, end, seen) == pytest.approx(0.5 + 2.4 - 2.0 + 0.2 + 0.7 + 0.3)


def _result(wall: float, cpu: float, rise_mib: float = 64.0, elapsed: float | None = None) -> RunResult:
    return RunResult(
        spec={},
        wall_s=wall,
        cpu_s=cpu,
        cpu_granularity_s=0.0,
        base_rss=30 * MIB,
        peak_rss=int((30 + rise_mib) * MIB),
        elapsed_s=wall + 0.3 if elapsed is None else elapsed,
    )


def test_check_flags_each_figure_out_of_bound():
    good = dict(sleep=_result(1.0005, 0.001), burn=_result(0.6, 0.5), short=_result(0.1, 0.05), long=_result(2.0, 0.05))
    assert all(c.ok for c in judge(**good, cores=2))
    bad = {**good, "burn": _result(0.2, 0.5)}  # 0.5 s of CPU in 0.2 s on 2 cores cannot be
    assert [c.figure for c in judge(**bad, cores=2) if not c.ok] == ["CPU of a 0.5 s burn"]
    bad = {**good, "short": _result(0.1, 0.05, rise_mib=58)}  # a missed peak
    assert [c.figure for c in judge(**bad, cores=2) if not c.ok] == ["peak rise, 64 MiB held 0.05 s"]
    bad = {**good, "sleep": _result(1.0005, 0.03, elapsed=0.5)}  # 10 ms steps of a sleeping run; elapsed < wall
    failed = [c.figure for c in judge(**bad, cores=2) if not c.ok]
    assert failed == ["CPU of that sleeping run", "elapsed − wall, least of every run"]


@pytest.mark.slow
def test_check_command_prints_a_verdict():
    done = subprocess.run(
        [sys.executable, "-m", "orchbench", "check", "--runs", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    data = json.loads(done.stdout)
    assert done.returncode == (0 if data["instrument_ok"] else 1)
    assert {c["figure"] for c in data["checks"]} >= {"CPU of that sleeping run", "CPU of a 0.5 s burn"}
    assert len(data["machine"]["fixed_workload_walls_s"]) == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1e-7, max_value=1e4), min_size=1, max_size=300), st.sampled_from([50, 95, 99]))
def test_latency_summary_keeps_percentiles_to_half_a_percent(latencies, q):
    exact = sorted(latencies)[max(1, math.ceil(q / 100 * len(latencies))) - 1]  # nearest rank
    summary = LatencySummary(latencies)
    assert summary.percentile(q) == pytest.approx(exact, rel=0.0051)
    assert min(latencies) <= summary.percentile(q) <= max(latencies)


def test_noise_names_a_spread_above_its_bound():
    assert noise.spread([1.0, 1.0, 1.0]) == 0.0
    assert noise.spread([0.14, 0.141, 0.142, 0.139, 0.224]) < 0.02  # one stray run moves no median
    assert noise.spread([0.10, 0.12, 0.14, 0.16, 0.18]) > 0.15  # the whole spread is wide
    assert noise.spread([1.0]) is None
    assert any("varies by 20.0 %" in r for r in noise.reasons(run_spread=0.2))
    assert not any("varies" in r for r in noise.reasons(run_spread=0.01))
