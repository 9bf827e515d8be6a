"""Hedged attempts: for an idempotent task, start another attempt beside one that is slower than usual, take
the first success and cancel the rest.

Each tenacity attempt of :func:`acall_hedged` is one *race*: the first attempt starts; whenever the newest one
has run for the hedge delay (a quantile of this process's recent successful latencies, or a fixed delay) and
fewer than ``copies`` are in flight, another starts beside it (one that failed frees its place, after any
``Retry-After`` it asked for, so a slow survivor is hedged too). Once hedges by quantile make up ``budget`` of
the attempts this process started, only one more may run at a time: the first latencies observed are the
fastest of their wave, so an early quantile is low, and the budget keeps that, or any other misjudgement, from
multiplying the load, while a tail of slow attempts (the last of a chunk) is still hedged one by one. The
first success wins and the others are cancelled; when every attempt in flight has failed, the race fails and
tenacity waits (at least any ``Retry-After``) and runs another, until ``max_attempts`` attempts — hedges
included — have started.

Every started attempt counts, also a cancelled loser: it takes its own attempt number (so it meets its own
deterministic fault and latency), its elapsed time is a latency sample, and an HTTP one is a request the server
counted. Only async strategies hedge: a sync attempt cannot be cancelled (a blocked socket read or sleep runs to
its end), so a losing hedge would hold a thread and a connection for the whole slow answer it was meant to beat;
sync strategies run this policy as plain exponential retries.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import tenacity

from orchbench.api import Option, RetryPolicy
from orchbench.harness.retry import _TIMEOUT, AttemptLog, _kwargs, timed_attempt

if TYPE_CHECKING:
    from orchbench.harness.limiter import AttemptSlots

WINDOW = 512  # recent successful latencies the quantile is taken over
REFRESH_EVERY = 16  # new samples between two recomputations of the quantile
MAX_ATTEMPTS = 100  # per item, for a hedging policy that states no max_attempts
RECHECK_S = 0.05  # while the quantile is unknown (warm-up), how often a running race asks again


class LatencyWindow:
    """Recent successful attempt latencies of this process and a quantile of them (recomputed now and then)."""

    def __init__(self, size: int = WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._fresh = 0
        self._cached: dict[float, float] = {}

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)
            self._fresh += 1

    def quantile(self, q: float) -> float | None:
        with self._lock:
            if not self._samples:
                return None
            if self._fresh >= REFRESH_EVERY or q not in self._cached:
                ordered = sorted(self._samples)
                self._cached = {q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]}
                self._fresh = 0
            return self._cached[q]


class HedgedRetry(RetryPolicy):
    name = "hedged"
    description = (
        "exponential retries, plus hedges in async strategies for idempotent tasks: another attempt "
        "when one is slower than a quantile of observed latency; the first success wins, the rest "
        "are cancelled (sync strategies retry plainly)"
    )
    options = {
        "copies": Option(int, 2, "most attempts of one item in flight at once (1: no hedging)", min=1, max=16),
        "quantile": Option(
            float, 0.95, "hedge an attempt slower than this quantile of recent successful latencies", min=0.5, max=0.999
        ),
        "delay": Option(
            float,
            None,
            "fixed hedge delay in seconds instead of the quantile (0: start every "
            "copy at once, for failures that show only at the end)",
            min=0,
            duration=True,
        ),
        "min_delay": Option(
            float, 0.005, "shortest hedge delay in seconds (a floor under the quantile)", min=0, duration=True
        ),
        "warmup": Option(int, 20, "successful latencies observed before hedging by quantile", min=1),
        "budget": Option(
            float,
            0.1,
            "beyond this share of the attempts started (per process), hedges by "
            "quantile run one at a time; 0: no limit",
            min=0,
        ),
        "max_attempts": Option(int, 10, "attempts per item, hedges included, before giving up", min=1),
        "base": Option(
            float, 0.01, "first backoff in seconds after a failed race (doubles, full jitter)", min=0, duration=True
        ),
        "cap": Option(float, 2.0, "longest backoff in seconds", min=0, duration=True),
        "timeout": _TIMEOUT,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.window = LatencyWindow()
        self.started = 0  # attempts started in this process, hedges included
        self.hedged = 0
        self.hedging_now = 0  # hedges in flight

    def stop(self) -> Any:
        return tenacity.stop_after_attempt(self.options["max_attempts"])

    def wait(self) -> Any:
        return tenacity.wait_random_exponential(multiplier=self.options["base"], max=self.options["cap"])

    @property
    def hedge_copies(self) -> int:
        return self.options["copies"]

    def hedge_delay(self) -> float | None:
        if self.options["copies"] < 2:
            return None
        if self.options["delay"] is not None:
            return self.options["delay"]
        budget = self.options["budget"]
        if budget and self.hedged >= budget * self.started and self.hedging_now:
            return None  # over budget, and a hedge is running: wait for more plain attempts, or for it to end
        if len(self.window) < self.options["warmup"]:
            return None  # no idea yet what slow means
        return max(self.options["min_delay"], self.window.quantile(self.options["quantile"]) or 0.0)

    def observe(self, seconds: float) -> None:
        """A successful attempt's latency, for the quantile."""
        self.window.add(seconds)

    def launched(self, hedge: bool) -> None:
        """An attempt started (``hedge``: beside a slower one), for the budget."""
        self.started += 1
        self.hedged += hedge
        self.hedging_now += hedge

    def hedge_ended(self) -> None:
        self.hedging_now -= 1


async def acall_hedged(
    policy: RetryPolicy,
    transient: tuple[type[BaseException], ...],
    attempt: Callable[[int], Awaitable[Any]],
    log: AttemptLog,
    limiter: AttemptSlots | None = None,
) -> Any:
    """Like :func:`~orchbench.harness.retry.acall_with_retry`, each try being a race of hedged attempts (the
    first race runs bare, tenacity only after it failed)."""
    most = policy.options.get("max_attempts") or MAX_ATTEMPTS
    try:
        return await _race(policy, transient, attempt, log, limiter, most)
    except transient as exc:
        failed: BaseException | None = exc
    kwargs = _kwargs(policy, transient)
    kwargs["stop"] = tenacity.stop_any(kwargs["stop"], lambda state: log.attempts >= most)
    value = None
    async for state in tenacity.AsyncRetrying(**kwargs):
        with state:
            if failed is not None:  # tenacity's first try is the race that already failed
                first, failed = failed, None
                raise first
            value = await _race(policy, transient, attempt, log, limiter, most)
    return value


async def _race(
    policy: RetryPolicy,
    transient: tuple[type[BaseException], ...],
    attempt: Callable[[int], Awaitable[Any]],
    log: AttemptLog,
    limiter: AttemptSlots | None,
    most: int,
) -> Any:
    observe = getattr(policy, "observe", None)
    launched = getattr(policy, "launched", None)
    hedge_ended = getattr(policy, "hedge_ended", None)
    running: dict[asyncio.Task[Any], bool] = {}  # attempt → started as a hedge

    def launch(hedge: bool) -> None:
        log.attempts += 1
        log.hedges += hedge
        if launched is not None:
            launched(hedge)
        future = asyncio.ensure_future(timed_attempt(policy, attempt, log.attempts, log, limiter, observe))
        if hedge and hedge_ended is not None:
            future.add_done_callback(lambda _: hedge_ended())
        running[future] = hedge

    loop = asyncio.get_running_loop()
    launch(False)
    last_launch = not_before = loop.time()
    error: BaseException | None = None
    try:
        while running:
            timeout = None
            if len(running) < policy.hedge_copies and log.attempts < most:
                delay = policy.hedge_delay()
                if delay is None:
                    timeout = RECHECK_S  # not warm, or out of budget, yet: look again, it may still be hedged
                elif (timeout := max(last_launch + delay, not_before) - loop.time()) <= 0:
                    # due (or copies at once): launched without a wait, however short, that a busy loop stretches
                    launch(True)
                    last_launch = loop.time()
                    continue
            done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                hedge = running.pop(finished)
                exc = finished.exception()
                if exc is None:
                    log.hedges_won += hedge
                    return finished.result()
                if not isinstance(exc, transient):
                    raise exc
                error = exc
                # a failed attempt frees its place; a hedge may take it, but not before a Retry-After
                not_before = max(not_before, loop.time() + (getattr(exc, "retry_after", None) or 0.0))
        assert error is not None
        raise error
    finally:
        for loser in running:
            loser.cancel()
        if running:
            await asyncio.wait(running)
