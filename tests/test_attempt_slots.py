"""Concurrency bounds attempts (requests) in flight, not items: an item waiting out a Retry-After holds no slot."""

from __future__ import annotations

import asyncio

import pytest

from orchbench.runtime.limiter import AttemptSlots
from orchbench.workloads.scoring.server import SCENARIOS, Kind, decide
from tests.helpers import run_here

CONCURRENCY = 4
# Every admitted request waits 0.25 s; half of the first requests of a line are answered 503 at once, asking the
# client to come back after 2 s. No other fault, no capacity limit: the server's in-flight count is the client's.
SERVER = {
    "capacity": 0,
    "latency_median": 0.25,
    "latency_sigma": 0.0,
    "slow_rate": 0.0,
    "rate_503": 0.5,
    "rate_500": 0.0,
    "drop_rate": 0.0,
    "malformed_rate": 0.0,
    "retry_after": 2.0,
}


def _lines(waiting: int, plain: int) -> list[str]:
    """``waiting`` lines whose first request is answered 503 (the second succeeds), then ``plain`` lines whose
    first request succeeds: the fates the embedded server (seed 0) decides for them."""
    config = SCENARIOS["default"].with_overrides(seed=0, **SERVER)
    fates: dict[bool, list[str]] = {True: [], False: []}
    n = 0
    while len(fates[True]) < waiting or len(fates[False]) < plain:
        line = f"line {n} of the attempt-slot test"
        n += 1
        first, second = (decide(config, line.encode(), k).kind for k in (0, 1))
        if first is Kind.UNAVAILABLE and second is Kind.OK:
            fates[True].append(line)
        elif first is Kind.OK:
            fates[False].append(line)
    return fates[True][:waiting] + fates[False][:plain]


@pytest.mark.parametrize(
    "strategy,options",
    [("asyncio", {"concurrency": CONCURRENCY}), ("hybrid", {"workers": 1, "concurrency": CONCURRENCY, "chunk": 64})],
)
def test_items_in_backoff_leave_their_slots_to_other_items(tmp_path, strategy, options):
    # The first two items are told to wait 2 s; meanwhile the six others' requests fill every slot. (Were items
    # bounding concurrency, the waiting two would hold half of the slots while the six others ran two by two,
    # done in 0.75 s, long before the two retries: never more than two requests at the server.) Hybrid gets one
    # chunk: the end of a chunk is a barrier, and a second chunk would fill the slots whatever bounds them.
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(_lines(2, 6)) + "\n")
    result = run_here(
        strategy,
        workload="scoring",
        input_path=str(path),
        scenario="default",
        strategy_options=options,
        workload_options=SERVER,
    )
    assert result.ok and result.correct, result.failures
    stats = result.workload_stats
    assert stats["by_status"].get("503") == 2 and stats["early_retries"] == 0
    assert stats["max_in_flight"] == CONCURRENCY  # reached, never exceeded


def test_later_attempts_get_a_free_slot_before_first_attempts():
    async def scenario() -> list[str]:
        slots = AttemptSlots(1)
        order: list[str] = []
        held = await slots.acquire()

        async def attempt(name: str, first: bool) -> None:
            epoch = await slots.acquire(first)
            order.append(name)
            slots.release(epoch, 0.0, None)

        waiting = [asyncio.ensure_future(attempt("new item", True)), asyncio.ensure_future(attempt("retry", False))]
        await asyncio.sleep(0)
        assert slots.in_flight == 1 and not order
        slots.release(held, 0.0, None)
        await asyncio.gather(*waiting)
        assert slots.in_flight == 0
        return order

    assert asyncio.run(scenario()) == ["retry", "new item"]


@pytest.mark.parametrize("spare_only", [True, False])
def test_a_spare_only_hedge_takes_no_slot_an_items_first_attempt_waits_for(spare_only):
    from orchbench.harness.attempts import AttemptLog
    from orchbench.harness.hedge import acall_hedged
    from orchbench.harness.retry import HedgedRetry

    async def scenario() -> list[object]:
        slots = AttemptSlots(2)
        policy = HedgedRetry(spare_only=spare_only, delay=0.0, budget=0)
        granted: list[object] = []  # who got a slot, in order

        async def attempt(k: int) -> int:
            granted.append(k)
            if k == 1:
                await asyncio.Event().wait()  # the first attempt never answers: only a hedge can win
            return k

        other = await slots.acquire()  # another item's attempt holds the second slot
        log = AttemptLog()
        race = asyncio.ensure_future(acall_hedged(policy, (ValueError,), attempt, log, slots))
        await asyncio.sleep(0)  # the race's first attempt takes the other slot
        first_attempt = asyncio.ensure_future(slots.acquire())  # and a third item's first attempt waits for one
        first_attempt.add_done_callback(lambda _: granted.append("another item"))
        await asyncio.sleep(0.12)  # the hedge is due at once; the race asks again every 50 ms
        assert granted == [1]
        slots.release(other, 0.0, None)
        await asyncio.sleep(0.12)
        if spare_only:  # no room for the hedge while the item's first attempt holds the freed slot
            assert not race.done()
            slots.release(await first_attempt, 0.0, None)  # now a slot is free and nobody waits for one
        assert await race == 2
        assert (log.attempts, log.hedges, log.hedges_won) == (2, 1, 1)
        await first_attempt
        return granted

    order = asyncio.run(scenario())
    # spare only: the freed slot goes to the new item, the hedge waits for room nobody wants; otherwise the hedge,
    # a later attempt, gets the freed slot ahead of the new item's first attempt
    assert order == ([1, "another item", 2] if spare_only else [1, 2, "another item"])
