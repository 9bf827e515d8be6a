"""Each verdict rule against a workload built to trigger it, and a clean run that triggers none.

A busy machine moves time into the run queue: the rules look for the part the workload was built to show among
every rule that fits (``findings``), and the machine's load is never a strategy's verdict.
"""

from __future__ import annotations

import pytest

from orchbench.harness.isolate import run_isolated
from orchbench.results import verdicts
from orchbench.types import RunResult, RunSpec


def run(strategy: str, workload: str = "calibrate", **fields) -> RunResult:
    fields.setdefault("scenario", "none" if workload == "calibrate" else None)
    result = run_isolated(RunSpec(strategy, workload=workload, **fields))
    assert result.error is None, result.error
    return result


def rules(result: RunResult) -> dict[str, str]:
    view = verdicts.of_result(result)
    assert view is not None
    return {f.rule: f.text for f in verdicts.findings(view)}


def test_a_pool_on_a_tiny_input_is_mostly_start_up():
    found = rules(run("processes", workload_options={"items": 2}))
    assert "start-up" in found["startup"] and "larger input" in found["startup"]


def test_threads_on_cpu_work_wait_for_the_gil():
    found = rules(run("threads", workload_options={"items": 24, "cpu_s": 0.05}))
    assert "the GIL serialises" in found["gil"] and "try processes" in found["gil"]


def test_cpu_work_in_one_thread_uses_one_core():
    found = rules(run("sequential", workload_options={"items": 6, "cpu_s": 0.05}))
    assert "1 of" in found["one-core"] and "try processes" in found["one-core"]


def test_waiting_items_run_one_at_a_time_wait_in_turn():
    found = rules(run("sequential", workload_options={"items": 6, "sleep_s": 0.05}))
    assert "1 at most in flight" in found["few-in-flight"]


def test_a_sync_sleep_in_async_items_blocks_the_loop():
    found = rules(run("asyncio", workload_options={"items": 6, "sleep_s": 0.05}))
    assert "event loop was blocked" in found["blocked-loop"]


def test_cpu_work_between_awaits_waits_for_the_busy_loop():
    result = run("asyncio", workload="anagrams", case="medium", scenario="fast", cpu_ms=20.0)
    assert "busy event loop" in rules(result)["busy-loop"]


def test_tiny_items_one_per_chunk_spend_their_time_crossing_processes():
    result = run("processes", workload_options={"items": 300}, strategy_options={"chunk": 1, "workers": 2})
    assert "raise chunk" in rules(result)["transfer"]


def test_uneven_chunks_leave_the_run_waiting_on_one_worker():
    result = run(
        "processes", workload_options={"items": 4, "sleep_s": 0.5}, strategy_options={"chunk": 3, "workers": 2}
    )
    assert "got 3 and 1 items" in rules(result)["uneven"]


def test_a_service_at_capacity_makes_items_wait_as_it_asks():
    """Its refusals ask for a wait (10 ms) shorter than the back-off that follows a few of them: the waits are still
    the service's doing, not the back-off's."""
    result = run(
        "asyncio",
        workload="scoring",
        case="small",
        scenario="default",
        workload_options={"capacity": 2, "retry_after": 0.01},
        strategy_options={"concurrency": 32},
    )
    assert "Retry-After" in rules(result)["retry-after"]


def test_failing_attempts_make_items_wait_out_back_offs():
    result = run(
        "sequential",
        workload="anagrams",
        case="small",
        scenario="fast",
        fault_rate=0.5,
        retry="fixed",
        retry_options={"delay": 0.05, "max_attempts": 20},
    )
    assert "back-off" in rules(result)["backoff"]


def test_more_busy_processes_than_cores_wait_for_a_cpu():
    result = run("processes", workload_options={"items": 8, "cpu_s": 0.2}, strategy_options={"workers": 8})
    assert "more busy workers than cores" in rules(result)["oversubscribed"]


@pytest.mark.parametrize(
    "strategy, workload, fields",
    [
        ("threads", "calibrate", {"workload_options": {"items": 10, "sleep_s": 0.1}}),
        ("asyncio", "scoring", {"case": "1k", "scenario": "default"}),
    ],
)
def test_a_clean_run_has_no_verdict(strategy, workload, fields):
    result = run(strategy, workload, **fields)
    assert verdicts.verdict(result) is None
    assert set(rules(result)) <= {verdicts.MACHINE}  # a loaded machine is said once, never as a verdict


def test_the_first_error_names_the_item_its_error_and_its_attempts():
    result = run(
        "sequential",
        workload="scoring",
        case="small",
        scenario="none",
        workload_options={"rate_500": 1.0},
        retry="fixed",
        retry_options={"delay": 0.0, "max_attempts": 2},
    )
    assert not result.ok
    error = verdicts.first_error([result])
    assert error is not None and error.startswith(f"item {result.failures[0]['item']} failed: ")
    assert "HTTP 500" in error and "after 2 attempts" in error and f"{len(result.failures) - 1} more" in error


def test_a_run_that_failed_says_its_own_error_first():
    failed = RunResult(
        spec={"strategy": "x"}, error="prepare failed: filter_input: InjectedFault: no (after 2 attempts)"
    )
    assert verdicts.first_error([failed]) == f"the run failed: {failed.error}"


def test_every_report_carries_each_strategys_verdict_and_first_error():
    import csv
    import io

    from orchbench.harness import account as time_account
    from orchbench.harness.planner import plan
    from orchbench.results.document import make_document
    from orchbench.results.figures import build_report
    from orchbench.views.export import to_csv
    from orchbench.views.markdown import to_markdown

    def worker(first: float, last: float) -> dict:
        return {
            "pid": 1, "tid": 1, "kind": "sync", "items": 2, "attempts": 2, "first": first, "last": last,
            "busy": last - first, "attempt_wall": last - first, "cpu": 0.01, "steps_wall": 0.0,
            "loop_overlap": 0.0, "slot_wait": 0.0, "retry_after": 0.0, "retry_wait": 0.0, "gil_samples": 0,
            "wait_samples": 0, "run_samples": 0, "inflight": 0, "max_inflight": 1, "runq": 0.0, "sampled": False,
            "spans": [(first, last, 1, True)],
        }  # fmt: skip

    slow_start = time_account.build(
        {"workers": [worker(2.0, 2.5)]}, start=0.0, end=2.5, prepare_s=0.0, before_window_s=0.0, items=2
    )
    failure = {"item": "'cat'", "positions": 1, "error": "InjectedFault: no (after 3 attempts)", "attempts": 3}
    order = plan(["sequential", "pool"], iterations=1, warmup=0)
    pairs = []
    for slot in order:
        spec = RunSpec(slot.strategy, workload="anagrams", case="medium", scenario="fast").to_dict()
        good = {"time_account": slow_start, "succeeded": 2, "complete": True, "correct": True}
        bad = {"failures": [failure], "succeeded": 1, "failed": 1, "complete": False, "correct": False}
        pairs.append((slot, RunResult(spec=spec, items=2, wall_s=2.5, **(good if slot.strategy == "pool" else bad))))
    report = build_report(make_document({"workload": "anagrams", "baseline": "sequential"}, order, pairs))
    rows = {r["strategy"]: r for r in csv.DictReader(io.StringIO(to_csv(report)))}
    assert rows["pool"]["why"] == report.why["pool"] == _top(pairs, "pool")
    assert rows["sequential"]["first_error"] == "item 'cat' failed: InjectedFault: no (after 3 attempts)"
    markdown = to_markdown(report)
    assert f"Why pool: {report.why['pool']}" in markdown and "sequential, first error: item" in markdown
    assert "Where the time went" in markdown


def test_the_verdict_is_the_largest_part_of_the_run_not_of_its_own_whole():
    """A run spent almost wholly starting (a resource built before the first item), its few items CPU work on one
    core: those items are all CPU, but a start-up of 0.9 s of 1 s is what held the run."""
    from orchbench.harness import account as time_account

    worker = {
        "pid": 1, "tid": 1, "kind": "sync", "items": 100, "attempts": 100, "first": 0.9, "last": 1.0,
        "busy": 0.1, "attempt_wall": 0.1, "cpu": 0.1, "steps_wall": 0.0, "loop_overlap": 0.0, "slot_wait": 0.0,
        "retry_after": 0.0, "retry_wait": 0.0, "gil_samples": 0, "wait_samples": 0, "run_samples": 0,
        "inflight": 0, "max_inflight": 1, "runq": 0.0, "sampled": False, "spans": [(0.9, 1.0, 1, True)],
    }  # fmt: skip
    acc = time_account.build({"workers": [worker]}, start=0.0, end=1.0, prepare_s=0.0, before_window_s=0.0, items=100)
    found = verdicts.findings(verdicts.Run("sequential", acc, cores=2, options={}))
    assert [f.rule for f in found] == ["startup", "one-core"]  # one-core's share (all of the items' time) is larger


def _top(pairs: list, strategy: str) -> str:
    result = next(r for slot, r in pairs if slot.strategy == strategy)
    return verdicts.findings(verdicts.of_result(result))[0].text
