"""The run's time account: its wall split into start-up, work and tail, and its workers' time into parts.

Built in the run process from what :mod:`orchbench.harness.timeaccount` recorded where the items ran. Every part is
in seconds, or None where this run cannot measure it (never a guess); docs/measurement.md says how each is measured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from orchbench.harness import timeaccount

PARTS = ("running", "waiting", "waiting_to_run", "retry_wait", "transfer", "idle")
MAX_ROWS = 64  # workers listed one by one (and drawn in the timeline); the sums cover them all
MIN_SAMPLES = 8  # fewer catches of a process's threads asleep than this leave their GIL wait unknown


def merge(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per worker thread, from the pieces a worker process handed back chunk by chunk."""
    merged: dict[tuple[int, int, str], dict[str, Any]] = {}
    for r in records:
        key = (r["pid"], r["tid"], r["kind"])
        m = merged.get(key)
        if m is None:
            merged[key] = {**r, "spans": list(r["spans"])}
            continue
        for name in timeaccount.SUMMED:
            m[name] += r[name]
        m["runq"] = None if m["runq"] is None or r["runq"] is None else m["runq"] + r["runq"]
        m["first"], m["last"] = min(m["first"], r["first"]), max(m["last"], r["last"])
        m["max_inflight"] = max(m["max_inflight"], r["max_inflight"])
        m["sampled"] = m.get("sampled") and r.get("sampled")
        m["spans"].extend(r["spans"])
    return sorted(merged.values(), key=lambda w: w["first"])


def _chunk_times(chunks: list[Mapping[str, Any]]) -> dict[int, dict[str, float]]:
    """Per worker process: time handing chunks in and results out (serialisation, pipes), the time before its first
    chunk started (its start-up), and when its last result reached the run process."""
    by_pid: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for c in chunks:
        by_pid[c["pid"]].append(c)
    out = {}
    for pid, mine in by_pid.items():
        mine.sort(key=lambda c: c["start"])
        t = {"in": 0.0, "out": 0.0, "start": max(0.0, mine[0]["start"] - mine[0]["sent"]), "received": 0.0}
        for before, c in zip(mine, mine[1:], strict=False):
            t["in"] += max(0.0, c["start"] - max(c["sent"], before["end"]))
        # a result on its way back overlaps the worker's next chunk: only the last one's is the worker's time
        t["out"] = max(0.0, mine[-1]["received"] - mine[-1]["end"])
        t["received"] = max(c["received"] for c in mine)
        t["chunks"] = [c["items"] for c in mine]
        out[pid] = t
    return out


def _add_samples(into: list[int], *workers: Mapping[str, Any]) -> list[int]:
    for w in workers:
        into[0] += w.get("run_samples", 0)
        into[1] += w.get("gil_samples", 0)
        into[2] += w.get("wait_samples", 0)
    return into


def _split(w: Mapping[str, Any], samples: list[int], shared: bool) -> tuple[float | None, float | None, float]:
    """A worker's run-queue wait (the kernel's), its GIL wait, and (event loop) time blocked in sync calls in steps.

    A lone thread has no rival for the GIL; threads sharing one split their sleeping time (off the CPU, not in the
    run queue) between the GIL and other waits in the proportion of the sampler's catches, or leave the GIL
    unknown without enough of them.
    """
    sync = w["kind"] == "sync"
    covered = max(0.0, w["busy"] - w["slot_wait"] - w["retry_wait"]) if sync else w["steps_wall"]
    off = max(0.0, covered - w["cpu"])
    runq = None if w["runq"] is None else min(w["runq"], off)
    if not sync:
        return runq, 0.0, max(0.0, off - (runq or 0.0))
    if not shared:
        return runq, 0.0, 0.0
    asleep = samples[1] + samples[2]
    if runq is None or not w.get("sampled") or asleep < MIN_SAMPLES:
        return runq, None, 0.0
    return runq, (off - runq) * samples[1] / asleep, 0.0


def _sum(values: Iterable[float | None]) -> float | None:
    total = 0.0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def build(
    recorded: Mapping[str, Any],
    *,
    start: float,
    end: float,
    prepare_s: float,
    before_window_s: float,
    items: int,
) -> dict[str, Any]:
    """The account of a window from ``start`` to ``end`` (monotonic clock) in which ``items`` items ran."""
    wall = max(0.0, end - start)
    account: dict[str, Any] = {
        "wall_s": wall,
        "startup_s": None,
        "work_s": None,
        "tail_s": None,
        "startup": {"prepare_s": prepare_s, "strategy_s": None, "before_window_s": before_window_s},
        "workers": 0,
        "slots": 0,
        "worker_seconds": None,
        "parts": dict.fromkeys(PARTS),
        "detail": {},
        "per_worker": [],
        "timeline": [],
        "notes": [],
    }
    workers = merge(recorded.get("workers", ()))
    seen = sum(w["items"] for w in workers)
    if not timeaccount.ENABLED:
        account["notes"].append("the account was switched off (ORCHBENCH_ACCOUNT=off)")
        return account
    if not workers or seen < items:
        if items:
            account["notes"].append(
                f"{items - seen} of {items} items ran where the account could not follow them (a process that "
                "returns no record, or another machine): only the wall time and the start-up before it are known"
            )
        if not items:
            account.update(startup_s=wall, work_s=0.0, tail_s=0.0)
        return account
    transfers = _chunk_times(list(recorded.get("chunks", ())))
    first = min(w["first"] for w in workers)
    ends_by_row: dict[int, float] = {}
    for i, w in enumerate(workers):
        t = transfers.get(w["pid"])
        ends_by_row[i] = max(w["last"], t["received"]) if t else w["last"]
    ends = sorted(ends_by_row.values())
    cut = ends[-2] if len(ends) > 1 else ends[-1]
    startup = min(wall, max(0.0, first - start))
    tail = min(wall - startup, max(0.0, end - cut))
    account.update(startup_s=startup, work_s=wall - startup - tail, tail_s=tail)
    account["startup"]["strategy_s"] = max(0.0, startup - prepare_s)

    span = max(ends) - first
    threads_per_pid: dict[int, int] = defaultdict(int)
    samples_per_pid: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # running, GIL, other sleep
    for w in workers:
        if w["kind"] == "sync":
            threads_per_pid[w["pid"]] += 1
            _add_samples(samples_per_pid[w["pid"]], w)
    rows = []
    for i, w in enumerate(workers):
        slots = max(1, w["max_inflight"])
        t = transfers.get(w["pid"])
        # several threads of one process are alike: their samples are pooled
        pooled = w["kind"] == "sync" and threads_per_pid[w["pid"]] > 1
        inside = max(0.0, w["busy"] - w["slot_wait"] - w["retry_wait"])  # the items' time in their attempts
        # the thread's CPU is read last when the account is collected: what it ran after its last item (the
        # reduce, on the run process's thread) is not the items'
        w["cpu"] = min(w["cpu"], inside if w["kind"] == "sync" else slots * span)
        runq, gil, blocked = _split(w, samples_per_pid[w["pid"]], pooled)
        off_cpu = max(0.0, inside - w["cpu"])
        waiting_to_run = None if runq is None or gil is None else runq + gil + w["loop_overlap"] + w["slot_wait"]
        waiting = None if runq is None or gil is None else max(0.0, off_cpu - runq - gil - w["loop_overlap"])
        transfer = slots * (t["in"] + t["out"]) if t else 0.0
        starting = slots * (w["first"] - first)  # part of idle: the worker had not started yet
        held = slots * span
        row = {
            "worker": f"{w['pid']}/{w['tid']}",
            "kind": w["kind"],
            "items": w["items"],
            "attempts": w["attempts"],
            "slots": slots,
            "first_s": w["first"] - start,
            "end_s": ends_by_row[i] - start,
            "worker_seconds": held,
            "running": w["cpu"],
            "waiting": waiting,
            "waiting_to_run": waiting_to_run,
            "retry_wait": w["retry_wait"],
            "transfer": transfer,
            "idle": max(0.0, held - w["busy"] - transfer),
            "run_queue": runq,
            "gil": gil,
            "loop": w["loop_overlap"],
            "slot": w["slot_wait"],
            "loop_blocked": blocked,
            "retry_after": w["retry_after"],
            "starting": starting,
            "off_cpu": off_cpu,
            "chunks": t["chunks"] if t else None,
        }
        rows.append(row)
    account["workers"] = len(rows)
    account["slots"] = sum(r["slots"] for r in rows)
    account["worker_seconds"] = sum(r["worker_seconds"] for r in rows)
    for part in PARTS:
        account["parts"][part] = _sum(r[part] for r in rows)
    account["detail"] = {
        name: _sum(r[name] for r in rows)
        for name in ("run_queue", "gil", "loop", "slot", "loop_blocked", "retry_after", "starting", "off_cpu")
    }
    account["detail"]["samples"] = _add_samples([0, 0, 0], *workers)
    if account["detail"]["gil"] is None:
        account["notes"].append(
            "several threads ran items in one process, and their waits for the GIL could not be sampled here (or "
            "too briefly): waiting and waiting to run are not told apart (their sum is off_cpu)"
        )
    elif account["detail"]["run_queue"] is None:
        account["notes"].append("the kernel's run-queue wait is unreadable here: waiting to run is unknown")
    account["per_worker"] = rows[:MAX_ROWS]
    account["timeline"] = [
        [row, round(s - start, 6), round(e - start, 6), attempts, ok]
        for row, w in enumerate(workers[:MAX_ROWS])
        for s, e, attempts, ok in w["spans"]
    ]
    return account
