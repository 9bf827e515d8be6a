"""A count of calls in flight shared by every thread and process of a run, kept in a file under a lock: the
tests' own instrument for "capacity was never exceeded", independent of what the harness reports."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

PEAK_ENV = "ORCHBENCH_TEST_PEAK"


def _update(path: str, delta: int) -> None:
    with open(path, "a+", encoding="ascii") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        now, peak, calls = (int(x) for x in (f.read().split() or ["0", "0", "0"]))
        now += delta
        peak, calls = max(peak, now), calls + (delta > 0)
        f.seek(0)
        f.truncate()
        f.write(f"{now} {peak} {calls}")


@contextmanager
def counted() -> Iterator[None]:
    """Count the block as a call in flight in the file named by ``ORCHBENCH_TEST_PEAK`` (nothing without it)."""
    path = os.environ.get(PEAK_ENV)
    if not path:
        yield
        return
    _update(path, +1)
    try:
        yield
    finally:
        _update(path, -1)


def read(path: str) -> tuple[int, int, int]:
    """(in flight now, the most ever in flight at once, calls started)."""
    with open(path, encoding="ascii") as f:
        now, peak, calls = (int(x) for x in f.read().split())
    return now, peak, calls
