"""The measured window of a run, read by the run process itself at the window's two edges.

At the opening edge every process of the run's tree (the run process and its descendants, but the workload's
service processes) gets its kernel high-water mark reset, and its CPU clock read; at the closing edge the CPU
clocks, RSS and high-water marks are read again, then USS. CPU over the window is then exact for every process
alive at both edges, whatever the run's length; a process that ends inside the window is counted through the
reaped-children time of its nearest ancestor alive at the end (see :func:`cpu_seconds`). The edges are read
just outside the timed span (so the
instrument costs the wall time nothing) with the CPU clocks nearest to it: the CPU they bracket exceeds
cores × wall by at most cores × the microseconds the clocks took to read, reported as the granularity.

The workload's service processes (e.g. the embedded scoring server) are left out of the tree, and their CPU
clocks are read apart at the same edges: their CPU over the window is the run's rival for the cores, and with
the tree's CPU spread over the cores it makes the run's CPU floor (``RunResult.cpu_floor_s``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from orchbench.harness import noise, proctree

if TYPE_CHECKING:
    from orchbench.types import RunResult

# pid → [parent pid, own CPU s, reaped children's CPU s, RSS, high-water mark, USS]
Reading = list[Any]
PPID, CPU, KIDS_CPU, RSS, HWM, USS = range(6)


def read_tree(
    exclude: Collection[int] = (), *, opening: bool = False, notes: set[str] | None = None
) -> tuple[dict[int, Reading], float, float]:
    """One reading of every process of this process's tree but ``exclude``, with the times its first and last
    CPU clock were read. Opening, each high-water mark is first reset and the CPU clocks are read last; closing,
    this process's clock is read first of all, then the others: the clocks lie as near the timed span as can be
    (a reason a mark could not be reset is added to ``notes``)."""
    first = time.monotonic()
    me = os.getpid()
    out: dict[int, Reading] = {}
    if not opening:
        out[me] = [None, proctree.cpu_seconds(me), None, None, None, None]
    pids = proctree.tree(me, set(exclude))

    def read_cpu() -> float:
        for pid in pids:
            reading = out.setdefault(pid, [None] * 6)
            if reading[CPU] is None:
                reading[CPU] = proctree.cpu_seconds(pid)
        return time.monotonic()

    last = 0.0 if opening else read_cpu()
    for pid in pids:
        if opening:
            reason = proctree.reset_peak(pid)
            if reason and notes is not None:
                notes.add(reason)
        st, mem = proctree.stat(pid), proctree.memory(pid)
        if st is not None and mem is not None:
            reading = out.setdefault(pid, [None] * 6)
            reading[PPID], reading[KIDS_CPU], reading[RSS], reading[HWM] = st[0], st[1], mem[0], mem[1]
    if opening:
        first = time.monotonic()
        last = read_cpu()
    return {pid: r for pid, r in out.items() if None not in r[:USS]}, first, last  # the rest ended meanwhile


class Window:
    """Open it just before the timed span starts and close it just after the span ends."""

    def __init__(self, exclude: Collection[int] = ()) -> None:
        self.exclude = frozenset(exclude)
        self.notes: set[str] = set()
        self.start: dict[int, Reading] = {}
        self.end: dict[int, Reading] = {}
        self.start_mono = self.end_mono = 0.0
        self.outside_s = 0.0  # the time the CPU clocks were read outside the timed span
        self.service_cpu: list[dict[int, float | None]] = []  # the services' CPU clocks at each edge
        self.overflows_at_open: int | None = None

    def open(self) -> None:
        if proctree.descendants(os.getpid()) is None:
            self.notes.add(
                "this system does not list a process's children: only the run process is read at the "
                "window's edges, other processes only sampled"
            )
        self.overflows_at_open = noise.listen_overflows()
        self.start, first, _ = read_tree(self.exclude, opening=True, notes=self.notes)
        self.service_cpu = [self._service_cpu()]
        self.start_mono = time.monotonic()
        self.outside_s = self.start_mono - first

    def close(self) -> None:
        self.end_mono = time.monotonic()
        self.service_cpu.append(self._service_cpu())
        self.end, _, last = read_tree(self.exclude)
        self.outside_s += last - self.end_mono
        overflows = noise.listen_overflows()
        if overflows is not None and self.overflows_at_open is not None and overflows > self.overflows_at_open:
            self.notes.add(noise.listen_queue_note(overflows - self.overflows_at_open))

    def _service_cpu(self) -> dict[int, float | None]:
        return {pid: proctree.cpu_seconds(pid) for pid in self.exclude}

    def service_cpu_s(self) -> float | None:
        """The service processes' CPU over the window; None without a service, or when a clock was unreadable
        at either edge (a service that died inside the window)."""
        if len(self.service_cpu) < 2 or not self.exclude:
            return None
        total = 0.0
        for pid in self.exclude:
            before, after = (edge.get(pid) for edge in self.service_cpu)
            if before is None or after is None:
                return None
            total += after - before
        return total

    def read_uss(self) -> None:
        """USS of each process at the closing edge (read after the span: it costs a walk of every mapping)."""
        for pid, reading in self.end.items():
            reading[USS] = proctree.uss(pid)
        if self.end and any(r[USS] is None for r in self.end.values()):
            self.notes.add("USS unreadable here (no /proc/PID/smaps_rollup)")

    def cpu_granularity_s(self) -> float:
        """How far the CPU figure may stray from the kernel's over the timed span: the clocks were read up to
        ``outside_s`` outside it (on each core), and a reaped-children time read from ``/proc`` (any process but
        this one) counts in clock ticks."""
        me = os.getpid()
        ticked = sum(
            1
            for pid, r in self.end.items()
            if pid != me and r[KIDS_CPU] != (self.start.get(pid) or [0.0] * 6)[KIDS_CPU]
        )
        return noise.usable_cores() * self.outside_s + 2 * ticked / proctree.TICK_HZ

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start_mono,
            "end": self.end_mono,
            "exclude": sorted(self.exclude),
            "service_cpu_s": self.service_cpu_s(),
            "cores": noise.usable_cores(),
            "cpu_granularity_s": self.cpu_granularity_s(),
            "notes": sorted(self.notes),
            "start_tree": self.start,
            "end_tree": self.end,
        }


def _pids(tree: Mapping[Any, Reading]) -> dict[int, Reading]:
    return {int(pid): reading for pid, reading in tree.items()}  # JSON keys are strings


def cpu_seconds(
    start: Mapping[Any, Reading], end: Mapping[Any, Reading], last_seen: Mapping[int, tuple[Any, ...]] | None = None
) -> float:
    """CPU time of the tree over the window.

    - a process alive at both edges: its CPU clock's advance; one born inside the window: its clock at the end;
    - a process that ended inside the window: once reaped, its whole life's CPU is in its parent's reaped-children
      time, and with the parent's in the grandparent's, and so on up to a process alive at the end, where it is
      counted (less what it had used before the window opened);
    - one with no known ancestor alive at the end: its last sampled CPU (``last_seen``: pid → (parent pid, CPU s,
      …)), a lower bound.
    """
    start, end = _pids(start), _pids(end)
    seen = dict(last_seen or {})
    parent = {pid: r[0] for pid, r in seen.items()}
    parent.update({pid: r[PPID] for pid, r in start.items()})
    total = 0.0
    for pid, reading in end.items():
        before = start.get(pid)
        total += reading[CPU] - (before[CPU] if before else 0.0)
        total += reading[KIDS_CPU] - (before[KIDS_CPU] if before else 0.0)
    for pid in (set(start) | set(seen)) - set(end):
        before = start.get(pid)
        if _has_live_ancestor(pid, parent, end):
            if before:
                total -= before[CPU] + before[KIDS_CPU]
        elif pid in seen:
            total += seen[pid][1] - (before[CPU] if before else 0.0)
    return max(total, 0.0)


def _has_live_ancestor(pid: int, parent: Mapping[int, int], alive: Collection[int]) -> bool:
    visited = {pid}
    up = parent.get(pid)
    while up is not None and up not in visited:
        if up in alive:
            return True
        visited.add(up)
        up = parent.get(up)
    return False


def account(
    result: RunResult,
    window: Mapping[str, Any],
    *,
    sampled: tuple[int | None, int | None] = (None, None),
    last_seen: Mapping[int, tuple[int, float, int | None]] | None = None,
) -> None:
    """Fill the run's CPU and memory figures from its window's edges (``Window.to_dict``), completed by what a
    sampler saw inside the window: ``sampled`` (largest sums of RSS and USS) and ``last_seen`` (see
    :meth:`TreeSampler.last_seen`)."""
    start, end = _pids(window.get("start_tree") or {}), _pids(window.get("end_tree") or {})
    if not end:
        return
    seen = dict(last_seen or {})
    notes = list(window.get("notes", ()))
    result.cpu_s = cpu_seconds(start, end, seen)
    result.cpu_granularity_s = window.get("cpu_granularity_s")
    result.cpu_percent = 100.0 * result.cpu_s / result.wall_s if result.wall_s > 0 else None
    result.service_cpu_s = window.get("service_cpu_s")
    result.cores = window.get("cores")
    result.base_rss = sum(r[RSS] for r in start.values())
    own_peaks = {pid: r[HWM] for pid, r in end.items()}
    for pid, (_, _, hwm) in seen.items():
        own_peaks.setdefault(pid, hwm)
    candidates = [sampled[0], result.base_rss, sum(r[RSS] for r in end.values())]
    if any(n.startswith("cannot reset") for n in notes) or any(v is None for v in own_peaks.values()):
        result.peak_rss_bound = None  # a mark from before the window, or none at all: only samples count
    else:
        candidates.append(max(own_peaks.values()))
        result.peak_rss_bound = sum(own_peaks.values())
    result.peak_rss = max(c for c in candidates if c is not None)
    if result.peak_rss_bound is not None:  # RSS read apart from the mark may differ by the kernel's counter batch
        result.peak_rss_bound = max(result.peak_rss_bound, result.peak_rss)
    end_uss = [r[USS] for r in end.values()]
    result.end_uss = None if any(u is None for u in end_uss) else sum(end_uss)
    result.peak_uss = max((u for u in (sampled[1], result.end_uss) if u is not None), default=None)
    result.measure_notes = notes
