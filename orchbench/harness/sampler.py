"""Samples a process tree from outside (the parent of a run): peak RSS, and USS where it is cheap.

RSS double-counts pages shared between processes (e.g. forked workers); USS counts only each process's own
pages but costs more to read, so it is sampled less often.
"""

from __future__ import annotations

import threading
import time

import psutil

DEFAULT_PERIOD_S = 0.05
USS_EVERY = 5  # read USS on every fifth sample


class TreeSampler:
    """A background thread recording (time, tree RSS, tree USS) for process ``pid`` and its descendants."""

    def __init__(self, pid: int, period_s: float = DEFAULT_PERIOD_S) -> None:
        self.period_s = period_s
        self.samples: list[tuple[float, int, int | None]] = []
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
        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return []
        for proc in tree:
            self.seen.setdefault(proc.pid, proc)
        return tree

    def survivors(self) -> list[psutil.Process]:
        """Processes of the tree that are still running (psutil checks they are the same processes)."""
        return [proc for proc in self.seen.values() if proc.is_running()]

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            rss, uss = 0, 0 if n % USS_EVERY == 0 else None
            for proc in self._tree():
                try:
                    if uss is not None:
                        info = proc.memory_full_info()
                        rss, uss = rss + info.rss, uss + info.uss
                    else:
                        rss += proc.memory_info().rss
                except psutil.Error:
                    continue  # the process ended between listing and reading
            if rss:
                self.samples.append((time.monotonic(), rss, uss))
            n += 1
            self._stop.wait(self.period_s)

    def peaks(self, start: float | None = None, end: float | None = None) -> tuple[int | None, int | None]:
        """Peak tree RSS and USS over the samples within [start, end], widened by one period on each side so a
        run shorter than the period still gets its nearest samples (all samples when not given)."""
        lo = -float("inf") if start is None else start - self.period_s
        hi = float("inf") if end is None else end + self.period_s
        chosen = [s for s in self.samples if lo <= s[0] <= hi] or self.samples
        rss = max((s[1] for s in chosen), default=None)
        uss = max((s[2] for s in chosen if s[2] is not None), default=None)
        return rss, uss
