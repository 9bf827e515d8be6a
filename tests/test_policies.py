"""The hedged retry policy and the adaptive (AIMD) concurrency limit: behaviour and honest counts, no timings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import tenacity

from orchbench.api import RetryPolicy, TaskProfile
from orchbench.errors import InjectedFault, TransientError
from orchbench.harness.faults import FaultModel
from orchbench.harness.plugins import get_registry
from orchbench.harness.retry import HedgedRetry, LatencyWindow
from orchbench.harness.task import Task
from orchbench.runtime.cache import ResourceCache
from orchbench.runtime.limiter import AIMDLimiter
from orchbench.types import RunSpec
from orchbench.workloads.scoring.scores import is_blank, split_lines
from orchbench.workloads.scoring.server import Kind, ServerConfig, decide
from tests.helpers import NO_WAIT, cli, run_here, share_dictionary_index

# Scoring server with slow outliers and no capacity limit: a slow answer takes far longer than the hedge delay,
# so every line whose first request is slow is certainly hedged, however loaded the machine is.
SLOW = {"capacity": 0, "latency_median": 0.005, "latency_sigma": 0.0, "slow_rate": 0.2, "slow_latency": 3.0}
HEDGE = {"copies": 2, "delay": 0.2, "max_attempts": 10, **NO_WAIT}


class Overloaded(TransientError):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


# --- the hedged policy ----------------------------------------------------------------------------------------


def _first_requests_slow(lines: list[str], options: dict) -> int:
    """Distinct lines whose first request the embedded server answers slowly (the server's own rule)."""
    from orchbench.workloads.scoring.server import SCENARIOS

    config: ServerConfig = SCENARIOS["default"].with_overrides(seed=0, **options)
    return sum(
        1
        for line in set(lines)
        if not is_blank(line) and (d := decide(config, line.encode(), 0)).slow and d.kind is not Kind.UNAVAILABLE
    )


def test_hedged_scoring_with_slow_outliers_is_correct_and_counts_every_attempt():
    result = run_here(
        "asyncio",
        workload="scoring",
        case="small",
        scenario="default",
        retry="hedged",
        retry_options=HEDGE,
        workload_options=SLOW,
    )
    assert result.ok, result.failures
    assert result.succeeded == result.items
    from orchbench.workloads.scoring.corpus import case_corpus

    slow_first = _first_requests_slow(split_lines(case_corpus("small")), SLOW)
    assert slow_first > 0  # the scenario really has outliers to hedge
    assert result.hedges >= slow_first  # each slow first request got a hedge
    assert 0 < result.hedges_won <= result.hedges
    # hedges are attempts: at least one non-hedge attempt per item, at most max_attempts in all per item
    assert result.unique_items + result.hedges <= result.attempts <= result.unique_items * HEDGE["max_attempts"]
    # the server saw the extra requests: more than one per distinct line it scored
    stats = result.workload_stats
    assert stats["requests"] > stats["unique_lines"]
    assert stats["slow"] >= slow_first


def test_hedged_runs_as_plain_retries_in_a_sync_strategy(monkeypatch):
    share_dictionary_index(monkeypatch)
    common = dict(case="medium", scenario="fast", seed=3, fault_rate=0.3, retry_options={"max_attempts": 10, **NO_WAIT})
    hedged = run_here("sequential", retry="hedged", **common)
    plain = run_here("sequential", retry="exponential", **common)
    assert hedged.ok and plain.ok
    assert hedged.hedges == 0
    assert hedged.attempts == plain.attempts  # the same deterministic faults, met one attempt after another


def test_immediate_copies_race_every_item(monkeypatch):
    """delay=0: every race starts all its copies at once (failures that show only at the end)."""
    share_dictionary_index(monkeypatch)
    result = run_here(
        "asyncio",
        case="medium",
        scenario="fast",
        seed=5,
        fault_rate=0.3,
        retry="hedged",
        retry_options={"copies": 3, "delay": 0.0, **NO_WAIT},
    )
    assert result.ok
    races = result.attempts - _prepare_attempts(seed=5) - result.hedges
    assert races >= result.unique_items
    # every item's first race starts copies - 1 = 2 hedges at once; no item starts more than max_attempts = 10
    assert 2 * result.unique_items <= result.hedges <= (10 - 1) * result.unique_items
    assert result.hedges_won <= result.hedges


def _prepare_attempts(seed: int) -> int:
    faults = FaultModel(seed, {t: TaskProfile(fault_rate=0.3) for t in ("filter_input", "get_words")})
    return sum(faults.attempts_to_succeed(t, 0) for t in ("filter_input", "get_words"))


@pytest.mark.parametrize("idempotent,hedges", [(True, 1), (False, 0)])
def test_only_idempotent_tasks_are_hedged(idempotent, hedges):
    spec = RunSpec("asyncio", case="small", scenario="none", retry="hedged", retry_options={"delay": 0.0})
    workload = get_registry().workload("anagrams")(spec, ResourceCache())
    workload.map_item = lambda item: item.upper()  # type: ignore[method-assign]
    profiles = {workload.map_task: TaskProfile(latency_s=0.01, idempotent=idempotent)}
    task = Task(spec, workload, HedgedRetry(delay=0.0), FaultModel(0, profiles))
    outcome = asyncio.run(task.arun(0, "cat"))
    assert outcome.ok and outcome.value == "CAT"
    assert outcome.hedges == hedges and outcome.attempts == 1 + hedges
    assert len(outcome.latencies) == outcome.attempts  # the cancelled loser is an attempt with a latency too


def test_hedge_delay_waits_for_observations_then_follows_the_quantile():
    policy = HedgedRetry(quantile=0.9, warmup=10, min_delay=0.05, budget=0.1)
    policy.launched(False)
    assert policy.hedge_delay() is None  # nothing observed: no idea what slow means
    for ms in range(1, 101):
        policy.observe(ms / 1000)
    assert policy.hedge_delay() == pytest.approx(0.091)
    policy.launched(True)  # one hedge in two attempts: over the budget of 10 %, and it is running
    assert policy.hedge_delay() is None
    policy.hedge_ended()  # over budget, but none running: one may run
    assert policy.hedge_delay() == pytest.approx(0.091)
    policy.launched(True)
    assert policy.hedge_delay() is None
    for _ in range(27):
        policy.launched(False)
    assert policy.hedge_delay() == pytest.approx(0.091)  # 2 hedges in 30 attempts: within budget again
    assert HedgedRetry(quantile=0.5, warmup=1, min_delay=0.2, budget=0).hedge_delay() is None
    floor = HedgedRetry(quantile=0.5, warmup=1, min_delay=0.2, budget=0)
    floor.observe(0.001)
    assert floor.hedge_delay() == 0.2
    assert HedgedRetry(copies=1, delay=0.0).hedge_delay() is None
    window = LatencyWindow(size=4)
    for s in (5.0, 1.0, 2.0, 3.0, 4.0):
        window.add(s)
    assert window.quantile(0.0) == 1.0 and len(window) == 4


class BareRetry(RetryPolicy):
    """A third party's policy: only stop and wait, none of RetryPolicy's optional members."""

    name = "bare"

    def stop(self) -> Any:
        return tenacity.stop_after_attempt(3)

    def wait(self) -> Any:
        return tenacity.wait_none()


class BareHedging(BareRetry):
    """Hedges every attempt at once, without observe, launched, hedge_ended or a max_attempts option."""

    name = "bare-hedging"

    @property
    def hedge_copies(self) -> int:
        return 2

    def hedge_delay(self) -> float | None:
        return 0.0


@pytest.mark.parametrize("policy,hedged", [(BareRetry, False), (BareHedging, False), (BareHedging, True)])
def test_a_policy_with_only_stop_and_wait_runs_in_every_loop(policy, hedged):
    spec = RunSpec("asyncio", case="small", scenario="none")
    workload = get_registry().workload("anagrams")(spec, ResourceCache())
    calls = []

    def map_item(item: str) -> str:  # the first call fails, every later one succeeds
        calls.append(item)
        if len(calls) == 1:
            raise InjectedFault("first call")
        return item.upper()

    workload.map_item = map_item  # type: ignore[method-assign]
    profiles = {workload.map_task: TaskProfile(latency_s=0.01, idempotent=hedged)}
    task = Task(spec, workload, policy(), FaultModel(0, profiles))
    assert task.hedging is hedged
    for run in (lambda: task.run(0, "cat"), lambda: asyncio.run(task.arun(1, "cat"))):
        calls.clear()
        outcome = run()
        assert outcome.ok and outcome.value == "CAT"
        assert outcome.attempts == len(outcome.latencies) >= 2
    assert (outcome.hedges >= 1) is hedged  # a hedging race starts both copies at once


# --- the AIMD limiter -----------------------------------------------------------------------------------------


def test_limiter_slow_start_then_one_cut_per_round_trip():
    async def scenario() -> AIMDLimiter:
        limiter = AIMDLimiter(64, initial=4)
        epochs = [await limiter.acquire() for _ in range(4)]
        assert limiter.in_flight == 4
        for _ in range(4):  # a success while the limit is in full use: +1 (slow start), and the slot refilled
            limiter.release(epochs.pop(), 0.01, None)
            epochs.append(await limiter.acquire())
        assert limiter.limit == 8 and limiter.in_flight == 4
        burst = epochs + [await limiter.acquire() for _ in range(4)]
        for epoch in burst:  # a burst of 429s from attempts started in one epoch cuts once
            limiter.release(epoch, 0.0, Overloaded(429))
        assert limiter.decreases == 1 and limiter.limit == 4  # the end of slow start halves
        later = await limiter.acquire()
        limiter.release(later, 0.0, Overloaded(503))  # the second overload answer in a round trip: cut
        assert limiter.decreases == 2 and limiter.limit == pytest.approx(4 * 0.9)
        limiter.release(await limiter.acquire(), 0.0, Overloaded(500))  # a status that is not an overload
        assert limiter.decreases == 2 and limiter.overloads == 9
        limiter.release(await limiter.acquire(), 0.0, TransientError("busy"))  # no status: a user's back-pressure
        assert limiter.overloads == 10 and limiter.decreases == 3  # the second overload in the round trip: cut
        return limiter

    limiter = asyncio.run(scenario())
    summary = limiter.summary()
    assert summary["start"] == 4 and summary["max"] == 8 and summary["decreases"] == 3 and summary["overloads"] == 10


def test_the_limiter_takes_the_workloads_own_transient_errors_as_back_pressure():
    class Busy(Exception):
        pass

    async def overloads(transient):
        limiter = AIMDLimiter(8, initial=4, transient=transient)
        limiter.release(await limiter.acquire(), 0.0, Busy())
        limiter.release(await limiter.acquire(), 0.0, ValueError())  # not declared transient: not back-pressure
        return limiter.overloads

    assert asyncio.run(overloads((Busy,))) == 1
    assert asyncio.run(overloads(())) == 0


def test_limiter_bounds_in_flight_and_cuts_on_rising_latency():
    async def scenario() -> tuple[int, AIMDLimiter]:
        limiter = AIMDLimiter(6, initial=2, minimum=2, window=5)
        peak = 0

        async def one(latency: float) -> None:
            nonlocal peak
            epoch = await limiter.acquire()
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0)
            limiter.release(epoch, latency, None)

        await asyncio.gather(*(one(0.01) for _ in range(50)))
        assert limiter.limit == 6  # grew to its ceiling, not beyond
        await asyncio.gather(*(one(0.1) for _ in range(50)))  # 10x the floor: cut
        return peak, limiter

    peak, limiter = asyncio.run(scenario())
    assert peak <= 6
    assert limiter.decreases > 0 and limiter.limit >= 2


def test_limiter_gives_back_a_slot_when_a_waiter_is_cancelled():
    async def scenario() -> AIMDLimiter:
        limiter = AIMDLimiter(1, initial=1)
        held = await limiter.acquire()
        waiter = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release(held, 0.01, asyncio.CancelledError())
        assert limiter.in_flight == 0
        assert await limiter.acquire() == 0
        return limiter

    assert asyncio.run(scenario()).in_flight == 1


# --- adaptive concurrency against a server of unknown capacity ------------------------------------------------

CAPACITY = 16
TIGHT = {"capacity": CAPACITY, "retry_after": 0.01, "latency_median": 0.01, "latency_sigma": 0.0, "slow_rate": 0.0}


def test_adaptive_asyncio_settles_near_the_servers_capacity():
    result = run_here(
        "asyncio",
        workload="scoring",
        case="1k",
        scenario="default",
        strategy_options={"adaptive": True},
        retry="exponential",
        retry_options={"max_attempts": 30, **NO_WAIT},
        workload_options=TIGHT,
    )
    assert result.ok, result.failures
    limiter = result.strategy_stats["limiter"]
    assert limiter["decreases"] >= 1
    assert CAPACITY / 4 <= limiter["final"] <= 4 * CAPACITY
    assert limiter["max"] < 4 * CAPACITY  # slow start stopped at the first 429s, far below the ceiling of 256
    assert result.workload_stats["max_in_flight"] <= CAPACITY


def test_adaptive_hybrid_keeps_a_limit_per_worker():
    result = run_here(
        "hybrid",
        workload="scoring",
        case="1k",
        scenario="default",
        strategy_options={"adaptive": True, "workers": 2, "concurrency": 64},
        retry="exponential",
        retry_options={"max_attempts": 30, **NO_WAIT},
        workload_options=TIGHT,
    )
    assert result.ok, result.failures
    limiter = result.strategy_stats["limiter"]
    assert 1 <= limiter["workers"] <= 2 and len(limiter["per_worker"]) == limiter["workers"]
    assert limiter["final"] == sum(w["final"] for w in limiter["per_worker"])
    assert all(w["ceiling"] == 64 for w in limiter["per_worker"])


def test_fixed_limits_record_no_trajectory(monkeypatch):
    share_dictionary_index(monkeypatch)
    result = run_here("asyncio", case="small", scenario="none")
    assert result.ok and result.strategy_stats == {} and result.hedges == 0


def test_cli_lists_the_policies_and_runs_them():
    listing = json.loads(cli("list", "--json").stdout)
    rows = {(r["kind"], r["name"]): r for r in listing["items"]}
    assert {"copies", "quantile", "delay", "max_attempts"} <= set(rows[("retry policy", "hedged")]["options"])
    assert all("adaptive" in rows[("strategy", name)]["options"] for name in ("asyncio", "hybrid"))
    proc = cli(
        "run",
        "asyncio",
        "--test-case",
        "small",
        "--scenario",
        "fast",
        "--retry",
        "hedged",
        "--set",
        "retry.delay=0",
        "--set",
        "retry.copies=2",
        "--set",
        "adaptive=true",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["correct"] and data["hedges"] > 0 and data["strategy_stats"]["limiter"]["start"] >= 1
    bad = cli("run", "asyncio", "--retry", "hedged", "--set", "retry.copies=0")
    assert bad.returncode != 0 and "copies" in bad.stderr and "Traceback" not in bad.stderr
