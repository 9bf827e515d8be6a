"""Why a strategy took the time it did: rules over a run's time account, each naming an avoidable part, its figure,
and what to try. A run's verdict is the finding that is the largest part of the whole run (each rule's share is of its
own whole: the items' time, worker time, the run); a run none of them fits has none.

Each rule reads only the account (:mod:`orchbench.harness.account`) and the run's own figures, and stays silent where
a part it needs is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MACHINE = "busy-machine"  # not the strategy's doing: said once for the comparison, never a strategy's verdict
ITEM_PARTS = ("running", "waiting", "waiting_to_run", "retry_wait")
UNEVEN = 1.2  # workers' item counts this far apart are uneven chunks
OVERSUBSCRIBED = 1.25  # runnable workers per core, on average, beyond which the run oversubscribed the cores
SHARE = 0.2  # the share of its whole (worker time, the wall, a loop's time) from which a part is worth naming


@dataclass(frozen=True)
class Finding:
    rule: str
    share: float  # of what the rule measures against (said in its text)
    text: str


@dataclass(frozen=True)
class Run:
    """What the rules read of one run."""

    name: str
    account: Mapping[str, Any]
    cores: int
    options: Mapping[str, Any]

    def part(self, name: str) -> float | None:
        return self.account["parts"].get(name)

    def detail(self, name: str) -> float | None:
        return self.account.get("detail", {}).get(name)

    def of_workers(self, seconds: float | None) -> float | None:
        total = self.account.get("worker_seconds")
        return seconds / total if seconds is not None and total else None

    def of_items(self, seconds: float | None) -> float | None:
        """``seconds`` as a share of the items' time (their workers' time but idle and transfer)."""
        parts = self.account["parts"]
        if seconds is None or any(parts.get(p) is None for p in ITEM_PARTS):
            return None
        total = sum(parts[p] for p in ITEM_PARTS)
        return seconds / total if total else None


Measured = tuple[str, float | None, dict[str, Any]]  # a finding's rule, its share, the figures its text names
Measure = Callable[[Run], Measured | None]  # None where the rule does not apply to the run

# What each rule says, over its figures, its share and the run's cores.
SAYS = {
    "startup": "start-up {spent:.2f} s of a {whole:.2f} s run (workers, resources) — use a larger input, or a strategy "
    "that starts less",
    "gil": "{share:.0%} of the items' time waiting to run with {busy:.1f} of {cores} cores busy — the GIL serialises "
    "this CPU work; try processes",
    "blocked-loop": "the event loop was blocked {share:.0%} of the time by sync calls inside async items — make them "
    "async, or move them off the loop (asyncio.to_thread)",
    "busy-loop": "{share:.0%} of the items' time waiting for the busy event loop ({busy:.0%} of its time running "
    "items' code) — one loop runs its items' CPU work in turn; try processes or hybrid",
    "transfer": "{share:.0%} of worker time moving work between processes (pickling, pipes; {size}) — raise chunk",
    "uneven": "workers got {most} and {fewest} items; the run waited {tail:.2f} s on one worker — smaller chunks",
    "straggler": "the run waited {tail:.2f} s ({share:.0%} of its time once items ran) on one worker's last items — "
    "smaller chunks, or hedged attempts for slow answers",
    "retry-after": "{share:.0%} of the items' time in waits the service asked for (Retry-After) — its capacity is the "
    "limit; fewer requests in flight, or --set adaptive=true",
    "backoff": "{share:.0%} of the items' time in back-off waits between attempts — failed attempts cost this; "
    "shorter back-off (retry.base, retry.cap) for brief failures",
    MACHINE: "{share:.0%} of the items' time waiting for a CPU — other work on the machine, or bursts of its own",
    "oversubscribed": "{share:.0%} of the items' time runnable but waiting for one of {cores} cores — more busy "
    "workers than cores; fewer workers",
    "one-core": "the items are CPU work ({share:.0%} of their time running, the machine's run queue aside) on one "
    "worker: 1 of {cores} cores — try processes",
    "few-in-flight": "the items mostly wait ({share:.0%} of their time) with {slots} at most in flight — run more at "
    "once (threads, asyncio, or more workers): waits overlap",
}
LEAST = {"one-core": 0.5, "few-in-flight": 0.5}  # the share from which a rule is worth naming, where not SHARE


def _startup(run: Run) -> Measured | None:
    acc = run.account
    strategy, before = acc["startup"].get("strategy_s"), acc["startup"].get("before_window_s") or 0.0
    if strategy is None:
        return None
    whole = acc["wall_s"] + before
    share = (strategy + before) / whole if whole else 0.0
    return "startup", share, {"spent": strategy + before, "whole": whole}


def _shares_a_gil(run: Run) -> bool:
    """Whether several threads of one process ran items (and so shared its GIL)."""
    pids = [w["worker"].split("/")[0] for w in run.account.get("per_worker", ()) if w["kind"] == "sync"]
    return len(pids) > len(set(pids))


def _gil(run: Run) -> Measured | None:
    """Threads sharing a GIL, waiting to run with about one core's worth of CPU used: the GIL's waits (sampled)
    and the run-queue waits of its threads (a GIL waiter wakes every switch interval to ask for it) together."""
    if not _shares_a_gil(run):
        return None
    gil = run.detail("gil")
    if gil is None or (run.of_items(gil) or 0.0) < SHARE / 2:  # the GIL's own waits must show, not only the load
        return None
    work = run.account.get("work_s") or 0.0
    if not work or run.cores < 2:
        return None
    busy = (run.part("running") or 0.0) / work
    if busy > 1.2:  # the threads ran on more than one core at once: code that lets the GIL go (C, I/O)
        return None
    return "gil", run.of_items(gil + (run.detail("run_queue") or 0.0)), {"busy": busy}


def _loop_time(run: Run) -> float:
    return sum(max(0.0, w["end_s"] - w["first_s"]) for w in run.account.get("per_worker", ()) if w["kind"] == "async")


def _blocked_loop(run: Run) -> Measured | None:
    blocked, loop = run.detail("loop_blocked"), _loop_time(run)
    if not blocked or not loop:
        return None
    return "blocked-loop", min(1.0, blocked / loop), {}


def _busy_loop(run: Run) -> Measured | None:
    loop = _loop_time(run)
    if not loop:
        return None
    busy = min(1.0, (run.part("running") or 0.0) / loop)
    return "busy-loop", run.of_items(run.detail("loop")), {"busy": busy}


def _transfer(run: Run) -> Measured | None:
    chunks = [n for w in run.account.get("per_worker", ()) for n in (w.get("chunks") or ())]
    size = f"{sum(chunks) / len(chunks):.0f} items per chunk" if chunks else "chunks"
    return "transfer", run.of_workers(run.part("transfer")), {"size": size}


def _straggler(run: Run) -> Measured | None:
    """The run waiting on one worker's last items: uneven chunks where one worker got more items than another."""
    acc = run.account
    tail, work = acc.get("tail_s"), acc.get("work_s")
    if tail is None or work is None or acc.get("workers", 0) < 2 or not tail + work:
        return None
    share = tail / (tail + work)  # of the time since the first item started
    per_worker = [sum(w["chunks"]) for w in acc.get("per_worker", ()) if w.get("chunks")]
    if len(per_worker) > 1 and max(per_worker) >= UNEVEN * min(per_worker):
        return "uneven", share, {"tail": tail, "most": max(per_worker), "fewest": min(per_worker)}
    return "straggler", share, {"tail": tail}


def _retries(run: Run) -> Measured | None:
    """Waits between attempts: those the service asked for (Retry-After), else back-off."""
    waited = run.part("retry_wait")
    if not waited:
        return None
    asked = run.detail("retry_after") or 0.0
    return "retry-after" if asked >= waited / 2 else "backoff", run.of_items(waited), {}


def _run_queue(run: Run) -> Measured | None:
    """Items runnable but waiting for a CPU: the machine's load, or the run's own workers beyond the cores."""
    work = run.account.get("work_s") or 0.0
    if not work or _shares_a_gil(run):
        return None
    demand = ((run.part("running") or 0.0) + (run.detail("run_queue") or 0.0)) / work  # CPUs its items wanted
    rule = MACHINE if demand <= OVERSUBSCRIBED * run.cores else "oversubscribed"
    return rule, run.of_items(run.detail("run_queue")), {}


def _one_core(run: Run) -> Measured | None:
    """One worker (a thread, an event loop) whose items are mostly CPU work, on a machine with more cores."""
    if run.account.get("workers") != 1 or run.cores < 2:
        return None
    running, queued = run.part("running"), run.detail("run_queue") or 0.0
    items = run.of_items(1.0)
    if running is None or items is None:
        return None
    own = 1.0 / items - queued  # the items' time but what other processes' load added
    return "one-core", running / own if own > 0 else 0.0, {}


def _few_in_flight(run: Run) -> Measured | None:
    """Items that mostly wait (not in sync calls blocking an event loop: that is the blocked loop's), run no more
    at once than there are cores."""
    waiting = run.part("waiting")
    slots = run.account.get("slots") or 0
    if waiting is None or not slots or slots > run.cores:
        return None
    return "few-in-flight", run.of_items(waiting - (run.detail("loop_blocked") or 0.0)), {"slots": slots}


MEASURES: tuple[Measure, ...] = (
    _one_core,
    _few_in_flight,
    _startup,
    _gil,
    _blocked_loop,
    _busy_loop,
    _transfer,
    _straggler,
    _retries,
    _run_queue,
)


def _of_run(run: Run, finding: Finding) -> float:
    """A finding's share as a share of the whole run, so that findings measured against different wholes compare:
    start-up's is already; every other rule's whole (the items' time, worker time, a loop's time, the time since
    the first item) lies after the start-up."""
    if finding.rule == "startup":
        return finding.share
    acc = run.account
    whole = acc["wall_s"] + (acc["startup"].get("before_window_s") or 0.0)
    after = (acc.get("work_s") or 0.0) + (acc.get("tail_s") or 0.0)
    return finding.share * after / whole if whole else finding.share


def findings(run: Run) -> list[Finding]:
    """Every rule the run's account fits, the largest part of the run first."""
    found = []
    for measure in MEASURES:
        measured = measure(run)
        if measured is None:
            continue
        rule, share, figures = measured
        if share is not None and share >= LEAST.get(rule, SHARE):
            found.append(Finding(rule, share, SAYS[rule].format(share=share, cores=run.cores, **figures)))
    return sorted(found, key=lambda f: -_of_run(run, f))


def of_result(result: Any) -> Run | None:
    """The rules' view of a :class:`~orchbench.types.RunResult` (None without a usable account)."""
    account = getattr(result, "time_account", None)
    if not account or account.get("worker_seconds") is None:
        return None
    return Run(result.name, account, result.cores or 1, result.resolved_options or {})


def verdict(result: Any) -> Finding | None:
    """The run's largest avoidable part (never the machine's load), or None."""
    run = of_result(result)
    found = [f for f in findings(run) if f.rule != MACHINE] if run else []
    return found[0] if found else None


def machine_load(result: Any) -> float | None:
    """The share of the run's worker time spent waiting for CPUs that other processes held, when worth saying."""
    run = of_result(result)
    found = [f for f in findings(run) if f.rule == MACHINE] if run else []
    return found[0].share if found else None


def typical(runs: Sequence[Any]) -> Any | None:
    """The run whose wall time is the median of the timed runs with an account (the one a strategy's verdict
    speaks of)."""
    timed = sorted((r for r in runs if r.timed and r.time_account), key=lambda r: r.wall_s)
    return timed[(len(timed) - 1) // 2] if timed else None


def first_error(runs: Sequence[Any]) -> str | None:
    """The first error of a strategy's runs: a run's own error, or its first failed item (the item, its error
    with its type and message, and its attempts). A wrong output's first differences are the verification's."""
    for run in runs:
        if run.error:
            return f"the run failed: {_short(run.error)}"
        if run.failures:
            f = run.failures[0]
            more = f"; {len(run.failures) - 1} more items failed" if len(run.failures) > 1 else ""
            return f"item {f['item']} failed: {_short(f['error'])}{more}"
    return None


def run_problem(run: Any) -> str:
    """One line saying what was wrong with a run: its error, its first failed item, or its first difference."""
    if run.error is not None:
        return f"failed: {run.error}"
    if not run.complete:
        shown = run.failures[0] if run.failures else None
        more = f"; first: {shown['item']!r}: {shown['error']}" if shown else ""
        return f"incomplete: {run.failed} of {run.items} items failed{more}"
    if run.mismatch:
        from orchbench.harness.verify import describe

        return f"wrong output against the {run.mismatch['against']}: " + describe(
            run.mismatch["count"], run.mismatch["first"]
        )
    return f"wrong output (digest {run.output_digest}, reference {run.reference_digest})"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Said:
    """What a report says of its strategies' time: lines for its notes, and per strategy its typical run's
    account, its verdict and its first error."""

    lines: list[str]
    accounts: dict[str, Any]
    why: dict[str, str]
    first_errors: dict[str, str]


def notes(grouped: Mapping[str, Sequence[Any]]) -> Said:
    """The lines a report adds per strategy — its verdict, and for one with a failed or incomplete run its first
    error — and the time account of each strategy's typical run."""
    said = Said([], {}, {}, {})
    lines, loaded = said.lines, {}
    for name, runs in grouped.items():
        run = typical(runs)
        if run is not None:
            said.accounts[name] = run.time_account
            found = verdict(run)
            if found is not None:
                said.why[name] = found.text
                lines.append(f"Why {name}: {found.text}.")
            load = machine_load(run)
            if load is not None:
                loaded[name] = load
        error = first_error(runs)
        if error is not None:
            said.first_errors[name] = error
            lines.append(f"{name}, first error: {error}.")
    if loaded:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in loaded.items())
        lines.append(
            f"Items waited for a CPU ({shares}) while their run wanted no more CPUs than the machine has on average: "
            "other work on the machine, or the run's own processes outnumbering the cores in bursts; the figures are "
            "slower than on a quiet machine — `orchbench check` measures how noisy it is."
        )
    return said
