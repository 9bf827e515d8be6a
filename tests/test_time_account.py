"""The time account against known work: the calibrate workload's items burn a known CPU time and sleep a known time,
so the account's running and waiting parts have a truth, and its parts must add up to the workers' time.

No figure here is a speed: CPU is each item's own CPU clock and sleep a fixed wait; a loaded machine moves time into
the run queue (waiting to run), which the account measures apart, so it cannot fail the tests.
"""

from __future__ import annotations

import pytest

from orchbench.harness import account
from orchbench.harness.isolate import run_isolated
from orchbench.types import RunResult, RunSpec

ITEMS, CPU_S, SLEEP_S = 6, 0.02, 0.03
TOLERANCE = 0.05


def calibrate(strategy: str, **options) -> RunResult:
    workload = {"items": ITEMS, "cpu_s": CPU_S, "sleep_s": SLEEP_S, **options}
    spec = RunSpec(strategy, workload="calibrate", scenario="none", workload_options=workload)
    result = run_isolated(spec)
    assert result.ok, result.error
    assert result.time_account is not None
    return result


def near(measured: float, truth: float, slack: float = 0.0) -> bool:
    return abs(measured - truth) <= TOLERANCE * truth + slack


def assert_adds_up(acc: dict) -> None:
    assert near(acc["startup_s"] + acc["work_s"] + acc["tail_s"], acc["wall_s"])
    parts = acc["parts"]
    assert all(parts[p] is not None for p in account.PARTS), parts
    assert near(sum(parts.values()), acc["worker_seconds"])


@pytest.mark.parametrize("strategy", ["sequential", "processes"])
def test_running_and_waiting_are_the_known_work(strategy):
    result = calibrate(strategy)
    acc = result.time_account
    assert_adds_up(acc)
    parts = acc["parts"]
    assert near(parts["running"], ITEMS * CPU_S)
    # sleeping is waiting; a late wake-up on a busy machine is the run queue's, measured apart
    assert near(parts["waiting"], ITEMS * SLEEP_S, slack=0.002 * ITEMS)
    assert parts["retry_wait"] == 0  # no attempt failed: no wait between attempts
    # the kernel's CPU clocks of the whole tree, a second instrument, hold every item's own CPU
    assert parts["running"] <= result.cpu_s + result.cpu_granularity_s
    assert sum(row["items"] for row in acc["per_worker"]) == ITEMS
    assert len(acc["timeline"]) == ITEMS


def test_a_pool_start_is_start_up_and_chunks_cross_the_boundary():
    acc = calibrate("processes", items=4).time_account
    assert acc["startup"]["strategy_s"] > 0  # the pool started inside the window, before any item
    assert acc["startup_s"] >= acc["startup"]["prepare_s"] + acc["startup"]["strategy_s"] - 1e-9
    rows = acc["per_worker"]
    assert sum(sum(row["chunks"]) for row in rows) == 4
    assert all(row["transfer"] > 0 for row in rows)  # every result crossed a pipe back


def test_a_sync_function_on_the_event_loop_blocks_it():
    acc = calibrate("asyncio").time_account
    assert_adds_up(acc)
    detail = acc["detail"]
    assert near(detail["loop_blocked"], ITEMS * SLEEP_S, slack=0.002 * ITEMS)
    assert near(acc["parts"]["running"], ITEMS * CPU_S)


def test_several_threads_leave_the_gil_unknown_not_guessed():
    acc = calibrate("threads").time_account
    assert acc["detail"]["gil"] is None
    assert acc["parts"]["waiting"] is None and acc["parts"]["waiting_to_run"] is None
    assert near(acc["parts"]["running"], ITEMS * CPU_S)
    assert any("GIL" in note for note in acc["notes"])


def _piece(first: float, last: float, items: int, runq: float | None) -> dict:
    return {
        "pid": 7,
        "tid": 7,
        "kind": "sync",
        "items": items,
        "attempts": items,
        "first": first,
        "last": last,
        "busy": last - first,
        "attempt_wall": last - first,
        "cpu": 0.1,
        "steps_wall": 0.0,
        "loop_overlap": 0.0,
        "slot_wait": 0.0,
        "retry_after": 0.0,
        "retry_wait": 0.0,
        "inflight": 0,
        "max_inflight": 1,
        "runq": runq,
        "spans": [(first, last, items, True)],
        "loop_busy": 0.0,
    }


def test_a_workers_pieces_merge_into_one_and_an_unknown_stays_unknown():
    [merged] = account.merge([_piece(1.0, 2.0, 3, 0.1), _piece(3.0, 4.0, 2, 0.2)])
    assert (merged["first"], merged["last"], merged["items"]) == (1.0, 4.0, 5)
    assert merged["runq"] == pytest.approx(0.3) and len(merged["spans"]) == 2
    [unknown] = account.merge([_piece(1.0, 2.0, 3, 0.1), _piece(3.0, 4.0, 2, None)])
    assert unknown["runq"] is None


def test_items_the_account_never_saw_make_its_parts_unknown():
    acc = account.build(
        {"workers": [_piece(1.0, 2.0, 3, 0.0)]}, start=0.5, end=2.5, prepare_s=0.1, before_window_s=0.0, items=5
    )
    assert acc["startup_s"] is None and all(v is None for v in acc["parts"].values())
    assert "2 of 5 items" in acc["notes"][0]
