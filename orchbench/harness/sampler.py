"""Samples a process tree from outside (the parent of a run): RSS, high-water marks, USS and CPU time.

The tree's simultaneous peak (the sum over its processes at one instant) can only be sampled; the kernel keeps
each process's own peak (``VmHWM``), which the sampler reads at every sample, so a process that ends inside the
window is known to its last sample. RSS double-counts pages shared between processes (e.g. forked workers); USS
counts only each process's own pages but costs more to read, so it is sampled less often. Samples are kept per
process, so processes that stand for the outside world (a workload's server) can be left out afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection
from contextlib import suppress

import psutil

from orchbench.harness import proctree
from orchbench.harness.proctree import descendants as _descendants

_PROC = os.path.isdir("/proc")
DEFAULT_PERIOD_S = 0.05
USS_EVERY = 5  # read USS on every fifth sample

# time, pid → (rss, uss, cpu seconds, high-water mark)
Sample = tuple[float, dict[int, tuple[int, int | None, float | None, int | None]]]


class TreeSampler:
    """A background thread recording the memory and CPU time of process ``pid`` and its descendants."""

    def __init__(self, pid: int, period_s: float = DEFAULT_PERIOD_S) -> None:
        self.period_s = period_s
        self.samples: list[Sample] = []
        self._root = psutil.Process(pid)
        self.seen: dict[int, psutil.Process] = {pid: self._root}
        self.parents: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="orchbench-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[psutil.Process]:
        pids = _descendants(self._root.pid)
        if pids is None:  # no /proc children files: psutil reads the parent of every process on the machine
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return []
        else:
            tree = [self._root]
            for pid in pids:
                if pid not in self.seen:
                    try:
                        tree.append(psutil.Process(pid))
                    except psutil.Error:
                        continue
                else:
                    tree.append(self.seen[pid])
        for proc in tree:
            if proc.pid not in self.seen:
                self.seen[proc.pid] = proc
                with suppress(psutil.Error):
                    self.parents[proc.pid] = proc.ppid()
        return [self.seen[proc.pid] for proc in tree]

    def survivors(self) -> list[psutil.Process]:
        """Processes of the tree that are still running (psutil checks they are the same processes)."""
        return [proc for proc in self.seen.values() if proc.is_running()]

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            with_uss = n % USS_EVERY == 0
            reading: dict[int, tuple[int, int | None, float | None, int | None]] = {}
            for proc in self._tree():
                mem = proctree.memory(proc.pid) if _PROC else self._psutil_memory(proc)
                if mem is None:  # ended between listing and reading (a zombie has no memory left to read)
                    continue
                cpu = proctree.cpu_seconds(proc.pid)
                uss = proctree.uss(proc.pid) if with_uss else None
                reading[proc.pid] = (mem[0], uss, cpu, mem[1])
            if reading:
                self.samples.append((time.monotonic(), reading))
            n += 1
            self._stop.wait(self.period_s)

    @staticmethod
    def _psutil_memory(proc: psutil.Process) -> tuple[int, int | None] | None:
        try:
            return proc.memory_info().rss, None
        except psutil.Error:
            return None

    def within(self, start: float | None = None, end: float | None = None) -> list[Sample]:
        """The samples taken inside [start, end] (an open side is unbounded)."""
        lo = -float("inf") if start is None else start
        hi = float("inf") if end is None else end
        return [s for s in self.samples if lo <= s[0] <= hi]

    def peaks(
        self, start: float | None = None, end: float | None = None, exclude: Collection[int] = ()
    ) -> tuple[int | None, int | None]:
        """The largest sampled sum of the tree's RSS and USS within [start, end], leaving out ``exclude``."""
        rss_peak: int | None = None
        uss_peak: int | None = None
        for _, reading in self.within(start, end):
            kept = [v for pid, v in reading.items() if pid not in exclude]
            if not kept:
                continue
            rss = sum(v[0] for v in kept)
            rss_peak = rss if rss_peak is None else max(rss_peak, rss)
            if all(v[1] is not None for v in kept):
                uss = sum(v[1] for v in kept)  # type: ignore[misc]
                uss_peak = uss if uss_peak is None else max(uss_peak, uss)
        return rss_peak, uss_peak

    def last_seen(
        self, start: float | None = None, end: float | None = None, exclude: Collection[int] = ()
    ) -> dict[int, tuple[int, float, int | None]]:
        """Each process's last sample within [start, end]: pid → (parent pid, CPU seconds, high-water mark)."""
        last: dict[int, tuple[int, float, int | None]] = {}
        for _, reading in self.within(start, end):
            for pid, (_, _, cpu, hwm) in reading.items():
                if pid not in exclude and cpu is not None:
                    last[pid] = (
                        self.parents.get(pid, -1),
                        cpu,
                        hwm if hwm is not None else last.get(pid, (0, 0, None))[2],
                    )
        return last
