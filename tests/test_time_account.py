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


def assert_known_work(result: RunResult) -> None:
    acc = result.time_account
    assert_adds_up(acc)
    parts = acc["parts"]
    assert near(parts["running"], ITEMS * CPU_S)
    # sleeping is waiting, and a late wake-up on a busy machine the run queue's: the sleep lies in their sum (the
    # kernel's run-queue figure may hold part of a sleep on some kernels, never the reverse)
    assert parts["waiting"] <= (1 + TOLERANCE) * ITEMS * SLEEP_S + 0.002 * ITEMS
    assert parts["waiting"] + parts["waiting_to_run"] >= ITEMS * SLEEP_S
    assert parts["retry_wait"] == 0  # no attempt failed: no wait between attempts
    # the kernel's CPU clocks of the whole tree, a second instrument, hold every item's own CPU
    assert parts["running"] <= result.cpu_s + result.cpu_granularity_s
    assert sum(row["items"] for row in acc["per_worker"]) == ITEMS
    assert len(acc["timeline"]) == ITEMS


def test_running_and_waiting_are_the_known_work():
    assert_known_work(calibrate("sequential"))


def test_in_processes_too_and_a_pool_start_is_start_up_and_chunks_cross_the_boundary():
    result = calibrate("processes")
    assert_known_work(result)
    acc = result.time_account
    assert acc["startup"]["strategy_s"] > 0  # the pool started inside the window, before any item
    assert acc["startup_s"] >= acc["startup"]["prepare_s"] + acc["startup"]["strategy_s"] - 1e-9
    rows = acc["per_worker"]
    assert sum(sum(row["chunks"]) for row in rows) == ITEMS
    assert all(row["transfer"] > 0 for row in rows)  # every result crossed a pipe back


def test_a_sync_function_on_the_event_loop_blocks_it():
    acc = calibrate("asyncio").time_account
    assert_adds_up(acc)
    detail = acc["detail"]
    assert detail["loop_blocked"] <= (1 + TOLERANCE) * ITEMS * SLEEP_S + 0.002 * ITEMS
    assert detail["loop_blocked"] + detail["run_queue"] >= (1 - TOLERANCE) * ITEMS * SLEEP_S
    assert near(acc["parts"]["running"], ITEMS * CPU_S)


def test_threads_doing_cpu_work_wait_to_run_and_sleeping_threads_wait():
    """Threads burning CPU under one GIL spend their off-CPU time waiting to run (the GIL, the run queue), threads
    sleeping spend it waiting: the sampled split tells the two apart."""
    burning = calibrate("threads", items=12, cpu_s=0.04, sleep_s=0.0).time_account
    assert_adds_up(burning)
    assert burning["detail"]["gil"] > 0
    assert burning["parts"]["waiting_to_run"] > burning["parts"]["waiting"]
    sleeping = calibrate("threads", items=8, cpu_s=0.0, sleep_s=0.5).time_account
    assert_adds_up(sleeping)
    assert sleeping["parts"]["waiting"] > sleeping["parts"]["waiting_to_run"]


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
        "gil_samples": 0,
        "wait_samples": 0,
        "run_samples": 0,
        "inflight": 0,
        "max_inflight": 1,
        "runq": runq,
        "spans": [(first, last, items, True)],
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


def test_threads_sharing_a_gil_unsampled_leave_waiting_unknown_not_guessed():
    pieces = [_piece(1.0, 2.0, 3, 0.1), {**_piece(1.0, 2.0, 3, 0.1), "tid": 8}]
    acc = account.build({"workers": pieces}, start=0.5, end=2.5, prepare_s=0.1, before_window_s=0.0, items=6)
    assert acc["detail"]["gil"] is None and acc["parts"]["waiting"] is None
    assert acc["parts"]["running"] == pytest.approx(0.2)
    assert any("GIL" in note for note in acc["notes"])
    sampled = [{**p, "run_samples": 10, "gil_samples": 30, "wait_samples": 10, "sampled": True} for p in pieces]
    acc = account.build({"workers": sampled}, start=0.5, end=2.5, prepare_s=0.1, before_window_s=0.0, items=6)
    asleep = 2 * (1.0 - 0.1 - 0.1)  # each thread: 1 s in items, 0.1 s on a CPU, 0.1 s in the run queue
    assert acc["detail"]["gil"] == pytest.approx(asleep * 30 / 40)
    assert acc["parts"]["waiting"] == pytest.approx(asleep * 10 / 40)
