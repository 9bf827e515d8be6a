"""Concurrency bounds attempts (requests) in flight, not items: an item waiting out a Retry-After holds no slot."""

from __future__ import annotations

import asyncio

import pytest

from orchbench.harness.limiter import AttemptSlots
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
