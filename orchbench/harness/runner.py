"""Run one RunSpec in this process: prepare, hand the items to the strategy, reduce, verify, account.

This is what the child process of every measured run executes (see ``isolate.py``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from typing import Any

from orchbench.api import Workload
from orchbench.errors import StrategyError, UsageError
from orchbench.harness import account as time_account
from orchbench.harness import timeaccount
from orchbench.harness.latency import LatencySummary
from orchbench.harness.plugins import get_registry
from orchbench.harness.task import StageFailed, Task
from orchbench.harness.window import Window, account
from orchbench.runtime.cache import ResourceCache
from orchbench.types import Outcome, RunResult, RunSpec


def digest(output: Any) -> str:
    """A short, order-independent fingerprint of an output (for comparing runs without storing outputs)."""
    return hashlib.sha256(json.dumps(output, sort_keys=True, default=list).encode()).hexdigest()[:16]


def check_outcomes(outcomes: list[Outcome], n_items: int) -> None:
    """A strategy must return exactly one outcome per item, in order; anything else is its bug, not data."""
    if not isinstance(outcomes, list):
        raise RuntimeError(f"strategy returned {type(outcomes).__name__}, not a list of outcomes")
    if len(outcomes) != n_items:
        raise RuntimeError(f"strategy returned {len(outcomes)} outcomes for {n_items} items")
    for position, outcome in enumerate(outcomes):
        if not isinstance(outcome, Outcome) or outcome.index != position:
            raise RuntimeError(
                f"strategy returned outcome {getattr(outcome, 'index', outcome)!r} at position {position}"
            )


def _checked_map(strategy: Any, task: Task, items: list[Any], source: Any) -> list[Outcome]:
    """The strategy's map; its own failure or a wrong set of outcomes is the run's error, never data."""
    who = f"strategy {strategy.name!r} of {source}"
    try:
        outcomes = strategy.map(task, items)
    except UsageError:  # the user's to fix (an option, a cluster address): one line, as anywhere else
        raise
    except Exception as exc:
        raise StrategyError(f"{who} raised {type(exc).__name__}: {exc}") from exc
    try:
        check_outcomes(outcomes, len(items))
    except (RuntimeError, TypeError) as exc:
        raise StrategyError(f"{who} broke its contract: {exc}") from exc
    return outcomes


def _dedupe(workload: Workload, items: list[Any], memo: bool) -> tuple[list[Any], list[int]]:
    """Unique items (by key) and, for each original position, its unique item's position."""
    if not memo:
        return items, list(range(len(items)))
    positions: dict[Any, int] = {}
    unique: list[Any] = []
    where = []
    for item in items:
        key = workload.item_key(item)
        pos = positions.get(key)
        if pos is None:
            pos = positions[key] = len(unique)
            unique.append(item)
        where.append(pos)
    return unique, where


def execute(spec: RunSpec, window: dict[str, Any] | None = None) -> RunResult:
    """Run ``spec`` here and return its measured result. ``window`` receives the measured window's edges
    (:meth:`Window.to_dict`: its span on the monotonic clock, the readings of the process tree at both edges, and
    the pids of the workload's service processes, which the parent's sampler leaves out)."""
    registry = get_registry(spec.plugins)
    workload = registry.workload(spec.workload)(spec, ResourceCache(spec.cache))
    strategy = registry.strategy(spec.strategy)(**spec.strategy_options)
    raw = workload.load_input()
    result = RunResult(spec=spec.to_dict())
    outcomes: list[Outcome] = []
    unique: list[Any] = []
    where: list[int] = []
    output: Any = None
    task: Task | None = None
    try:
        # what start() learnt (e.g. its server's URL) reaches the workload's copies in other processes with the
        # task's spec; this instance keeps its own state
        spec = spec.replace(started=workload.start())
        task = Task.build(spec, workload=workload)
        started = time.perf_counter()
        strategy.start(spec)
        result.startup_s = time.perf_counter() - started
        edges = Window(workload.service_pids())
        edges.open()  # just outside the timed span, as is close(): the instrument costs the wall time nothing
        timeaccount.reset()
        opened = time.monotonic()
        t0 = time.perf_counter()
        try:
            items = workload.prepare(raw, task.stage)
        except StageFailed as exc:
            items, result.error = [], f"prepare failed: {exc}"
        result.prepare_s = time.perf_counter() - t0
        unique, where = _dedupe(workload, items, spec.memo)
        if unique:
            outcomes = _checked_map(strategy, task, unique, registry.entries["strategy"][spec.strategy].source)
        result.items, result.unique_items = len(items), len(unique)
        if result.error is None and all(o.ok for o in outcomes):
            output = workload.reduce([outcomes[pos].value for pos in where])
            result.complete = True
        result.wall_s = time.perf_counter() - t0
        closed = time.monotonic()
        recorded = timeaccount.collect()  # its last CPU readings inside the window's CPU edges
        edges.close()
        edges.read_uss()
        account(result, edges.to_dict())
        result.time_account = time_account.build(
            recorded,
            start=opened,
            end=closed,
            prepare_s=result.prepare_s,
            before_window_s=result.startup_s,
            items=sum(1 for o in outcomes if o.attempts),
        )
        if window is not None:
            window.update(edges.to_dict())
        result.limit_s = workload.limit_s(raw, unique, task.faults)
        result.workload_stats = workload.stats()
        result.strategy_stats = strategy.stats()
        result.in_flight, result.resolved_options = strategy.in_flight, dict(getattr(strategy, "resolved", {}))
    finally:
        try:
            strategy.stop()
            if task is not None:
                task.close_workers()
                result.worker_resources = _worker_resources(task)
        finally:
            workload.stop()
    assert task is not None  # built, or the block above raised
    _account(result, outcomes, unique, where, task)
    _verify(result, workload, raw, output, spec.reference_path)
    return result


def _worker_resources(task: Task) -> dict[str, Any] | None:
    """The worker resources opened and closed, when the workload has a worker factory."""
    counts = task.workers.to_dict()
    if not counts["opened"] and task.workload.worker_factory() is None:  # a generator's body does not run
        return None
    return counts


def _verify(result: RunResult, workload: Workload, raw: Any, output: Any, reference_path: str | None) -> None:
    """Check a complete output against the recorded reference, or else the workload's own; with neither, the
    run stays unverified (``correct`` None)."""
    from orchbench.harness.verify import canonical, differences, load_reference

    if reference_path is not None:
        reference, against = load_reference(reference_path)["output"], "recorded reference"
        output_to_check = canonical(output)
    else:
        reference, against, output_to_check = workload.reference(raw), "reference", output
    result.reference_digest = digest(reference) if reference is not None else None
    if not result.complete:
        result.correct = False
        return
    result.output = output
    result.output_digest = digest(output)
    if reference is None:
        return
    result.correct = output_to_check == reference
    if not result.correct:
        count, first = differences(reference, output)
        result.mismatch = {"against": against, "count": count, "first": first}


def _account(result: RunResult, outcomes: list[Outcome], unique: list[Any], where: list[int], task: Task) -> None:
    """Attempts, retries, give-ups, latency percentiles and the failed items."""
    result.succeeded = sum(1 for pos in where if outcomes[pos].ok)
    result.failed = result.items - result.succeeded
    calls = task.prepare_calls + sum(1 for o in outcomes if o.attempts)
    result.attempts = task.prepare_attempts + sum(o.attempts for o in outcomes)
    result.hedges = sum(o.hedges for o in outcomes)
    result.hedges_won = sum(o.hedges_won for o in outcomes)
    result.retries = result.attempts - calls - result.hedges  # attempts started after a failure
    result.give_ups = sum(1 for o in outcomes if not o.ok) + (1 if result.error else 0)
    latencies = LatencySummary(lat for o in outcomes for lat in o.latencies)
    result.latency_p50_s = latencies.percentile(50)
    result.latency_p95_s = latencies.percentile(95)
    result.latency_p99_s = latencies.percentile(99)
    positions = Counter(where)
    result.failures = [  # every failed item, so the account of a run is whole (the table shows the first few)
        {"item": _shorten(unique[o.index]), "positions": positions[o.index], "error": o.error, "attempts": o.attempts}
        for o in outcomes
        if not o.ok
    ]


def _shorten(item: Any, limit: int = 80) -> str:
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 1] + "…"
