"""Samples a process tree from outside (the parent of a run): peak RSS, USS where it is cheap, and CPU time.

RSS double-counts pages shared between processes (e.g. forked workers); USS counts only each process's own
pages but costs more to read, so it is sampled less often. Samples are kept per process, so processes that
stand for the outside world (a workload's server) can be left out afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection

import psutil

DEFAULT_PERIOD_S = 0.05
USS_EVERY = 5  # read USS on every fifth sample

Sample = tuple[float, dict[int, tuple[int, int | None, float]]]  # time, pid → (rss, uss, cpu seconds)


def _descendants(root: int) -> list[int] | None:
    """Every descendant of ``root``, read from Linux's ``/proc/PID/task/TID/children`` files: a cost in the size
    of the tree, where listing children with psutil reads every process of the machine at each sample. None when
    those files do not exist (another OS, or a kernel built without them)."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        return None
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # ended meanwhile
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


class TreeSampler:
    """A background thread recording the memory and CPU time of process ``pid`` and its descendants."""

    def __init__(self, pid: int, period_s: float = DEFAULT_PERIOD_S) -> None:
        self.period_s = period_s
        self.samples: list[Sample] = []
        self._root = psutil.Process(pid)
        self.seen: dict[int, psutil.Process] = {pid: self._root}
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
            self.seen.setdefault(proc.pid, proc)
        return [self.seen[proc.pid] for proc in tree]

    def survivors(self) -> list[psutil.Process]:
        """Processes of the tree that are still running (psutil checks they are the same processes)."""
        return [proc for proc in self.seen.values() if proc.is_running()]

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            with_uss = n % USS_EVERY == 0
            reading: dict[int, tuple[int, int | None, float]] = {}
            for proc in self._tree():
                try:
                    with proc.oneshot():
                        cpu = proc.cpu_times()
                        if with_uss:
                            info = proc.memory_full_info()
                            reading[proc.pid] = (info.rss, info.uss, cpu.user + cpu.system)
                        else:
                            reading[proc.pid] = (proc.memory_info().rss, None, cpu.user + cpu.system)
                except psutil.Error:
                    continue  # the process ended between listing and reading
            if reading:
                self.samples.append((time.monotonic(), reading))
            n += 1
            self._stop.wait(self.period_s)

    def _window(self, start: float | None, end: float | None) -> list[Sample]:
        # widened by one period on each side, so a run shorter than the period still gets its nearest samples
        lo = -float("inf") if start is None else start - self.period_s
        hi = float("inf") if end is None else end + self.period_s
        return [s for s in self.samples if lo <= s[0] <= hi] or self.samples

    def peaks(self, start: float | None = None, end: float | None = None,
              exclude: Collection[int] = ()) -> tuple[int | None, int | None]:
        """Peak tree RSS and USS within [start, end], leaving out the processes in ``exclude``."""
        rss_peak: int | None = None
        uss_peak: int | None = None
        for _, reading in self._window(start, end):
            kept = [v for pid, v in reading.items() if pid not in exclude]
            if not kept:
                continue
            rss = sum(v[0] for v in kept)
            rss_peak = rss if rss_peak is None else max(rss_peak, rss)
            if all(v[1] is not None for v in kept):
                uss = sum(v[1] for v in kept)  # type: ignore[misc]
                uss_peak = uss if uss_peak is None else max(uss_peak, uss)
        return rss_peak, uss_peak

    def cpu_seconds(self, start: float | None = None, end: float | None = None,
                    exclude: Collection[int] = ()) -> float:
        """CPU time the tree's processes (but ``exclude``) used between the first and last sample of the window.

        A process that ends between two samples loses at most one period of its CPU time."""
        window = self._window(start, end)
        if not window:
            return 0.0
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        for _, reading in window:
            for pid, (_, _, cpu) in reading.items():
                if pid not in exclude:
                    first.setdefault(pid, cpu if pid in window[0][1] else 0.0)
                    last[pid] = cpu
        return sum(last[pid] - first[pid] for pid in last)
