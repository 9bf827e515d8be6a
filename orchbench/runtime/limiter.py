"""Limits on the attempts in flight: a fixed one (``AttemptSlots``) and an adaptive one (AIMD) for a service of unknown
capacity.

Both count attempts (requests), not items: an item waiting out a backoff or a ``Retry-After`` holds no slot. An item's
later attempts (retries, hedges) are let in before other items' first attempts, so that an item already started finishes
before new ones begin.

The adaptive limit starts low and grows by one per success (slow start) until the first sign of overload, which halves
it, then by one per limit's worth of successes (additive increase). Overload cuts the limit by ``backoff``
(multiplicative decrease): the median of recent latencies rising above ``tolerance`` times its lowest value, or answers
with status 429 or 503 (or a transient error without a status: a user's "busy") — two within one round trip (the last
``limit`` answers), since a lone 503 is as often a fault as a sign of load, and random faults alone would otherwise hold
the limit far below the capacity. At most one cut per round trip: attempts that started before the last cut do not cut
again, so a burst counts once.

One limit serves one event loop at a time (a hybrid worker keeps one loop for its life).
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from collections.abc import Callable
from typing import Any

from orchbench.errors import TransientError

OVERLOAD_STATUS = frozenset({429, 503})


def is_overload(error: BaseException | None, transient: tuple[type[BaseException], ...] = ()) -> bool:
    """An answer that says the service is over capacity: an HTTP status 429, or 503 which may mean the same; or,
    for an error without a status, a transient one (``orchbench.TransientError``, or one of the workload's own
    ``transient``): a user's "busy, try later" is back-pressure whatever its form."""
    if error is None:
        return False
    status = getattr(error, "status", None)
    if status is not None:
        return status in OVERLOAD_STATUS
    return isinstance(error, TransientError) or (bool(transient) and isinstance(error, transient))


class AttemptSlots:
    """How many attempts may be in flight: ``acquire`` before an attempt, ``release`` after it (a fixed limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = float(max(1, limit))
        self.in_flight = 0
        self.epoch = 0  # the adaptive limit's number of cuts; a fixed limit is never cut
        self._later: deque[asyncio.Future[None]] = deque()  # waiting retries and hedges: served first
        self._first: deque[asyncio.Future[None]] = deque()  # waiting first attempts
        self._on_spare: dict[Callable[[], None], None] = {}  # called once when room becomes spare (see spare())

    async def acquire(self, first: bool = True) -> int:
        """Wait for room under the limit; return the epoch to hand back to :meth:`release`. ``first``: an item's
        first attempt (it waits behind any item's later attempt)."""
        if self.in_flight < int(self.limit) and not self._later and (not first or not self._first):
            self.in_flight += 1
            if self._on_spare:
                self._tell_spare()
            return self.epoch
        waiter = asyncio.get_running_loop().create_future()
        queue = self._first if first else self._later
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted, then cancelled: give the slot back
                self.in_flight -= 1
                self._wake()
            elif waiter in queue:  # not yet passed over by _wake
                queue.remove(waiter)
            raise
        return self.epoch

    def spare(self) -> bool:
        """A slot is free and no attempt waits for one: room that a hedge takes from nobody."""
        return self.in_flight < int(self.limit) and not self._later and not self._first

    def when_spare(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when an attempt is granted or ends and room is spare then (a hedge that waits
        for room needs no timer while there is none)."""
        self._on_spare[callback] = None

    def forget(self, callback: Callable[[], None]) -> None:
        self._on_spare.pop(callback, None)

    def _tell_spare(self) -> None:
        if self.spare():
            callbacks = list(self._on_spare)
            self._on_spare.clear()
            for callback in callbacks:
                callback()

    def release(self, epoch: int, latency: float, error: BaseException | None) -> None:
        """An attempt ended: ``error`` None for a success, else what it raised (a fixed limit ignores both)."""
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self.in_flight < int(self.limit) and (self._later or self._first):
            waiter = (self._later or self._first).popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
        if self._on_spare:
            self._tell_spare()


class AIMDLimiter(AttemptSlots):
    """An adaptive :class:`AttemptSlots`: ``release`` with each attempt's result moves the limit."""

    def __init__(
        self,
        maximum: int,
        *,
        initial: int = 4,
        minimum: int = 1,
        backoff: float = 0.9,
        tolerance: float = 2.0,
        window: int = 25,
        transient: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__(1)
        self.transient = transient  # the workload's own transient errors: back-pressure too
        self.minimum = max(1, minimum)
        self.maximum = max(self.minimum, maximum)
        self.limit = float(min(max(initial, self.minimum), self.maximum))
        self.backoff = backoff
        self.tolerance = tolerance
        self.start = int(self.limit)
        self.peak = int(self.limit)
        self.overloads = 0  # overload answers seen (each may or may not have cut the limit)
        self._answers = 0  # attempts ended with an answer (not cancelled)
        self._last_overload: int | None = None  # the answer number of the previous overload answer
        self._recent: deque[float] = deque(maxlen=window)
        self._floor: float | None = None

    @property
    def decreases(self) -> int:
        return self.epoch

    def release(self, epoch: int, latency: float, error: BaseException | None) -> None:
        """An attempt ended: ``error`` None for a success, else what it raised (a cancellation says nothing)."""
        busy = self.in_flight  # this attempt included: how much of the limit was in use
        self.in_flight -= 1
        if not isinstance(error, asyncio.CancelledError):
            self._answers += 1
        if is_overload(error, self.transient):
            self.overloads += 1
            previous, self._last_overload = self._last_overload, self._answers
            if previous is not None and self._answers - previous <= max(1, int(self.limit)):
                self._decrease(epoch)
        elif error is None:
            self._observe(epoch, latency, busy)
        self._wake()

    def _observe(self, epoch: int, latency: float, busy: int) -> None:
        self._recent.append(latency)
        if len(self._recent) < self._recent.maxlen:  # type: ignore[operator]
            self._grow(busy)
            return
        median = statistics.median(self._recent)
        if self._floor is None or median < self._floor:
            self._floor = median
        if median > self.tolerance * self._floor:
            self._decrease(epoch)
        else:
            self._grow(busy)

    def _grow(self, busy: int) -> None:
        if busy < self.limit / 2:
            return  # demand, not the limit, bounds the load: growing would only raise a limit never tested
        self.limit = min(self.maximum, self.limit + (1.0 if self.epoch == 0 else 1.0 / self.limit))
        self.peak = max(self.peak, int(self.limit))

    def _decrease(self, epoch: int) -> None:
        if epoch != self.epoch:
            return  # started before the last cut: its signal is already accounted for
        # slow start may have doubled the limit within the round trip that met the overload: its end halves
        factor = 0.5 if self.epoch == 0 else self.backoff
        self.epoch += 1
        self.limit = max(float(self.minimum), self.limit * factor)
        self._recent.clear()  # judge the new limit by latencies seen under it

    def summary(self) -> dict[str, Any]:
        """The limit's trajectory in a few numbers: where it started, ended and peaked, and how often it was cut."""
        return {
            "start": self.start,
            "final": int(self.limit),
            "max": self.peak,
            "decreases": self.epoch,
            "overloads": self.overloads,
            "min": self.minimum,
            "ceiling": self.maximum,
        }
