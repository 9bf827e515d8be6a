"""Fair comparisons: the tuner finds a known optimum, --budget holds every strategy at exactly N in flight, the
tuning budget bounds the probes, and a tuned comparison's probes round-trip through the saved results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchbench.errors import UsageError
from orchbench.harness.runner import execute
from orchbench.harness.tune import Search, TuneBudget, probe_runner
from orchbench.results.fairness import apply_budget, record_of
from orchbench.types import RunResult, RunSpec
from orchbench.workloads.scoring.server import ServerConfig, ServerProcess
from tests.helpers import cli

CAPACITY = 4


def _lines(path: Path, n: int) -> str:
    path.write_text("".join(f"line {i} of the tuning test\n" for i in range(n)), encoding="utf-8")
    return str(path)


def test_search_finds_the_capacity_of_a_server_that_penalises_more(tmp_path: Path) -> None:
    # Below the capacity every step halves the wall time; above it the server answers 429 and asks the client
    # to wait, so the best concurrency is the capacity by construction.
    # Waits dominate each run (0.1 s answers, a 0.3 s penalty), so a busy machine hardly moves the curve.
    config = ServerConfig(capacity=CAPACITY, latency_median=0.1, retry_after=0.3)
    with ServerProcess("none", config=config) as server:
        spec = RunSpec(
            "asyncio",
            workload="scoring",
            input_path=_lines(tmp_path / "in.txt", 4 * CAPACITY),
            workload_options={"url": server.url},
        )
        search = Search(
            "asyncio", {"concurrency": (1, 16384)}, probe_runner(spec, lambda s, _: execute(s)), TuneBudget(runs=14)
        )
        tuning = search.run()
    chosen = tuning.chosen["concurrency"]
    assert CAPACITY / 2 <= chosen <= CAPACITY * 2, [(p.options, p.wall_s) for p in tuning.probes]
    assert tuning.ranges["concurrency"] == [1, 4 * CAPACITY]  # never searched past the distinct items
    above = [p for p in tuning.probes if p.options.get("concurrency", 0) > 2 * CAPACITY]
    assert above and all(not p.ok or p.wall_s > min(q.wall_s for q in tuning.probes if q.ok) for p in above)


def run_at_budget(strategy: str, tmp_path: Path, n: int, **strategy_options: Any) -> RunResult:
    """One in-process run of ``strategy`` given a budget of ``n``, against a server of unlimited capacity whose
    answers all take 0.1 s: every item the strategy holds in flight is in flight at the server."""
    spec = RunSpec(
        strategy,
        workload="scoring",
        input_path=_lines(tmp_path / "in.txt", 6 * n),
        strategy_options=strategy_options,
        workload_options={
            "capacity": 0,
            "latency_median": 0.1,
            "latency_sigma": 0.0,
            "rate_503": 0.0,
            "rate_500": 0.0,
            "drop_rate": 0.0,
            "malformed_rate": 0.0,
            "slow_rate": 0.0,
        },
    )
    [(_, given)] = apply_budget([(strategy, spec)], n, {})
    return execute(given)


@pytest.mark.parametrize("strategy", ["threads", "asyncio", "processes", "hybrid"])
def test_budget_holds_exactly_n_items_in_flight(tmp_path: Path, strategy: str) -> None:
    result = run_at_budget(strategy, tmp_path, 4)
    assert result.ok
    assert result.in_flight == 4
    assert result.workload_stats["max_in_flight"] == 4  # what the server saw at once


def test_budget_and_tune_refuse_what_they_cannot_honour() -> None:
    spec = RunSpec("threads", workload="scoring", strategy_options={"workers": 8})
    with pytest.raises(UsageError, match="do not --set it as well"):
        apply_budget([("threads", spec)], 4, {})
    with pytest.raises(UsageError, match="above its maximum"):
        apply_budget([("processes", RunSpec("processes"))], 5000, {})
    skipped: dict[str, str] = {}
    assert apply_budget([("sequential", RunSpec("sequential"))], 4, skipped)[0][1].strategy_options == {}
    assert "sequential" in skipped
    assert TuneBudget.parse("12") == TuneBudget(runs=12)
    assert TuneBudget.parse("90s") == TuneBudget(seconds=90.0)
    for bad in ("", "0", "1.5", "ten", "-3"):
        with pytest.raises(UsageError, match="--tune-budget"):
            TuneBudget.parse(bad)


def test_tune_budget_bounds_the_probes_and_the_curve_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "tuned.json"
    server = [
        "--set",
        f"capacity={CAPACITY}",
        "--set",
        "latency_median=0.02",
        "--set",
        "latency_sigma=0",
        "--set",
        "rate_503=0",
        "--set",
        "rate_500=0",
        "--set",
        "drop_rate=0",
        "--set",
        "malformed_rate=0",
        "--set",
        "slow_rate=0",
    ]
    done = cli(
        "compare",
        "-s",
        "asyncio",
        "-w",
        "scoring",
        "--input",
        _lines(tmp_path / "in.txt", 24),
        *server,
        "-n",
        "1",
        "--warmup",
        "0",
        "--tune",
        "--tune-budget",
        "2",
        "-o",
        str(out),
        "-q",
        "--format",
        "markdown",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())["settings"]["fairness"]
    tuning = record["tuning"]["asyncio"]
    assert len(tuning["probes"]) == 2 and tuning["exhausted"]
    chosen = tuning["chosen"]["concurrency"]
    measured = [r for r in json.loads(out.read_text())["runs"] if r["spec"]["strategy"] == "asyncio"]
    at = {} if tuning["kept_defaults"] else {"concurrency": chosen}  # its defaults when nothing beat them
    assert measured[0]["spec"]["strategy_options"] == at  # compared at its chosen setting
    assert f"concurrency={chosen}" in done.stdout and "#### Tuning" in done.stdout

    again = cli("report", str(out), "--format", "markdown", "--plot")
    assert again.returncode == 0, again.stderr
    table = again.stdout[again.stdout.index("#### Tuning") :]
    assert table == done.stdout[done.stdout.index("#### Tuning") :]  # the same probes, read back
    assert "tuning budget ran out" in again.stdout
    assert (tmp_path / f"{out.stem}-tuning.png").stat().st_size > 0  # named after its results file

    damaged = json.loads(out.read_text())
    damaged["settings"]["fairness"]["tuning"]["asyncio"]["probes"][0]["wall_s"] = "fast"
    with pytest.raises(UsageError, match="fairness record is damaged"):
        record_of(damaged)


def test_a_probe_past_its_deadline_is_stopped_with_its_workers_and_server(tmp_path: Path) -> None:
    import psutil

    from orchbench.harness.isolate import run_isolated

    spec = RunSpec(
        "hybrid",
        workload="scoring",
        input_path=_lines(tmp_path / "in.txt", 8),
        workload_options={"latency_median": 60.0, "latency_sigma": 0.0},
    )
    before = set(psutil.Process().children(recursive=True))  # e.g. a fork server of an in-process run
    result = run_isolated(spec, deadline_s=4.0)
    assert result.error == "stopped at its deadline of 4 s" and not result.ok
    assert set(psutil.Process().children(recursive=True)) <= before  # no worker, fork server or server left
