"""Worker resources, capacity and transient errors of one's own pipeline, under every built-in strategy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchbench.testing import run_spec
from tests import peak
from tests.helpers import ctrl_c, group_killed_after

PLUGIN = str(Path(__file__).with_name("worker_pipelines.py"))
STRATEGIES = ["sequential", "threads", "asyncio", "processes", "hybrid"]
# more in flight than the workloads' capacity asks for, so that only the capacity's bound holds them
WIDE = {
    "sequential": {},
    "threads": {"workers": 8},
    "asyncio": {"concurrency": 16},
    "processes": {"workers": 4},
    "hybrid": {"workers": 2, "concurrency": 8},
}


@pytest.fixture
def account(tmp_path, monkeypatch):
    """The test's own log of opens and closes, and its count of calls in flight."""
    log, count = tmp_path / "log", tmp_path / "peak"
    monkeypatch.setenv("ORCHBENCH_TEST_LOG", str(log))
    monkeypatch.setenv(peak.PEAK_ENV, str(count))
    (tmp_path / "log.d").mkdir()
    return log, count


def _lines(log: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in log.read_text().splitlines()] if log.exists() else []


def _run(strategy, workload, options=None, **fields):
    return run_spec(
        strategy, workload=workload, case="small", plugins=[PLUGIN], strategy_options=options or {}, **fields
    )


@pytest.mark.parametrize("workload", ["per-thread", "per-loop"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_one_resource_per_worker_closed_by_the_worker_that_opened_it(strategy, workload, account):
    log, count = account
    result = _run(strategy, workload, WIDE[strategy])
    assert result.complete and result.correct, result.failures[:3]
    lines = _lines(log)
    opened = Counter((pid, tid) for what, pid, tid in lines if what == "open")
    closed = Counter((pid, tid) for what, pid, tid in lines if what == "close")
    assert max(opened.values()) == 1  # one per worker
    if workload == "per-thread":
        assert closed == opened  # each closed in the thread that opened it
    else:
        assert sum(closed.values()) == sum(opened.values())
    assert result.worker_resources == {"opened": len(opened), "closed": len(opened), "errors": []}
    now, most, calls = peak.read(str(count))
    capacity = 3 if workload == "per-thread" else 4
    assert now == 0 and calls >= 40 and 1 <= most <= capacity
    assert result.in_flight is not None and result.in_flight <= capacity


def test_a_factory_that_raises_fails_the_items_of_its_workers_and_opens_nothing(account):
    for strategy in STRATEGIES:
        result = _run(strategy, "factory-raises", WIDE[strategy])
        assert not result.complete and result.failed == result.items == 10, strategy
        assert all(
            "the worker factory raised ConnectionRefusedError: no database here" in f["error"] for f in result.failures
        ), result.failures[0]
        assert all(f["attempts"] == 1 for f in result.failures)  # not transient: never retried
        assert result.worker_resources == {"opened": 0, "closed": 0, "errors": []}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_teardown_that_raises_is_reported_and_the_output_stands(strategy, account):
    log, _ = account
    result = _run(strategy, "teardown-raises", WIDE[strategy])
    assert result.complete and result.correct
    opens = sum(1 for what, *_ in _lines(log) if what == "open")
    assert sum(1 for what, *_ in _lines(log) if what == "close") == opens >= 1
    assert result.worker_resources["opened"] == result.worker_resources["closed"] == opens
    assert result.worker_resources["errors"], "a teardown that raised must be reported"
    if strategy not in ("processes", "hybrid"):
        assert result.worker_resources["errors"][0] == "a worker's teardown raised OSError: disk gone at teardown"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_transient_errors_are_retried_honouring_retry_after_and_others_are_not(strategy, account):
    _, count = account
    result = _run(strategy, "flaky", WIDE[strategy], retry="exponential", retry_options={"base": 0.0, "cap": 0.0})
    failed = {int(f["item"]) for f in result.failures}
    assert failed == {i for i in range(12) if i % 3 == 2}  # LookupError: not declared, not retried
    assert all(f["attempts"] == 1 for f in result.failures)
    assert result.succeeded == 8 and result.retries == 8  # TransientError and the declared Busy: once each
    assert peak.read(str(count))[1] <= 2


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fault_rate_and_cpu_reach_a_decorator_workload_the_same_under_every_strategy(strategy, account):
    result = _run(
        strategy,
        "plain",
        WIDE[strategy],
        fault_rate=0.3,
        cpu_ms=1.0,
        seed=7,
        retry="exponential",
        retry_options={"base": 0.0, "cap": 0.0, "max_attempts": 20},
    )
    assert result.complete and result.correct
    baseline = _run(
        "sequential",
        "plain",
        fault_rate=0.3,
        cpu_ms=1.0,
        seed=7,
        retry="exponential",
        retry_options={"base": 0.0, "cap": 0.0, "max_attempts": 20},
    )
    assert result.retries == baseline.retries > 0  # deterministic by seed: the same faults everywhere


@pytest.mark.ray
@pytest.mark.parametrize("workload", ["per-thread", "per-loop"])
def test_each_ray_actor_opens_one_resource_and_closes_it(workload, account, monkeypatch):
    monkeypatch.setenv("ORCHBENCH_PLUGINS", "orchbench-ray")
    log, count = account
    result = _run("ray", workload, {"actors": 2})
    assert result.complete and result.correct, result.failures[:3]
    opens = [line for line in _lines(log) if line[0] == "open"]
    assert len({pid for _, pid, _ in opens}) == len(opens) >= 1  # one per actor (process)
    assert sum(1 for line in _lines(log) if line[0] == "close") == len(opens)
    assert result.worker_resources == {"opened": len(opens), "closed": len(opens), "errors": []}
    assert peak.read(str(count))[1] <= (3 if workload == "per-thread" else 4)


@pytest.mark.ray
def test_ray_refuses_actors_and_concurrency_beyond_the_capacity(account, monkeypatch):
    from orchbench.errors import UsageError

    monkeypatch.setenv("ORCHBENCH_PLUGINS", "orchbench-ray")
    with pytest.raises(UsageError, match="more than the workload's capacity 4"):
        _run("ray", "per-loop", {"actors": 2, "concurrency": 3})


@pytest.mark.parametrize("strategy", ["sequential", "threads", "asyncio", "processes", "hybrid"])
def test_ctrl_c_closes_every_resource_opened(strategy, account):
    """Interrupted mid-run, every worker still closes what it opened (a pool's workers unwind on its stop)."""
    log, _ = account
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchbench", "run", strategy, "-p", PLUGIN, "-w", "slow", "--test-case", "small"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    with group_killed_after(proc):
        limit = time.monotonic() + 60
        while time.monotonic() < limit and not any(line[0] == "open" for line in _lines(log)):
            time.sleep(0.05)
        time.sleep(0.5)  # some items under way
        err = ctrl_c(proc)
    assert proc.returncode == 130, err
    lines = _lines(log)
    opens = Counter((pid, tid) for what, pid, tid in lines if what == "open")
    closes = Counter((pid, tid) for what, pid, tid in lines if what == "close")
    assert opens and closes == opens, (opens, closes, err)
