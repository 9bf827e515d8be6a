"""The current attempt's deadline, so sync work (sleeps, HTTP calls, CPU burn) can stop at the timeout.

A thread cannot be killed, so sync attempts are cut cooperatively: the harness sets the deadline before each
attempt and everything that waits or burns CPU on its behalf checks it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from orchbench.errors import AttemptTimeout

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("orchbench_deadline", default=None)


@contextmanager
def attempt_deadline(timeout_s: float | None) -> Iterator[None]:
    token = _deadline.set(None if timeout_s is None else time.monotonic() + timeout_s)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the current attempt, or None when it has no timeout."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def check() -> None:
    left = remaining()
    if left is not None and left <= 0:
        raise AttemptTimeout("attempt timed out")


def sleep(seconds: float) -> None:
    """Sleep, but raise AttemptTimeout at the deadline instead of sleeping past it."""
    left = remaining()
    if left is not None and left < seconds:
        time.sleep(max(left, 0.0))
        raise AttemptTimeout("attempt timed out")
    time.sleep(seconds)


def burn_cpu(ms: float) -> None:
    """Busy work: ``ms`` milliseconds of this thread's CPU time (holds the GIL, like real Python work)."""
    end = time.thread_time() + ms / 1000.0
    x = 0
    while time.thread_time() < end:
        for i in range(2000):
            x += i * i
        check()
