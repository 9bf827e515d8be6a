"""The hedged attempt loop: for an idempotent task, start another attempt beside one that is slower than usual,
take the first success and cancel the rest.

Each tenacity attempt of :func:`acall_hedged` is one *race*: the first attempt starts; whenever the newest one
has run for the policy's ``hedge_delay()`` and fewer than ``hedge_copies`` are in flight, another starts beside
it (one that failed frees its place, after any ``Retry-After`` it asked for, so a slow survivor is hedged too).
While ``hedge_delay()`` is None (no idea yet what slow means, or out of budget), or a policy that hedges
only into spare room (``hedge_spare_only``) finds none under the strategy's attempt limit, the race asks again
every :data:`RECHECK_S`. The first success wins and the others are cancelled; when every attempt in flight has failed,
the race fails and tenacity waits (at least any ``Retry-After``) and runs another, until the policy's
``max_attempts`` attempts — hedges included — have started. The policy hears of every attempt started
(``launched``), every hedge ended (``hedge_ended``) and every successful latency (``observe``).

Every started attempt counts, also a cancelled loser: it takes its own attempt number (so it meets its own
deterministic fault and latency), its elapsed time is a latency sample, and an HTTP one is a request the server
counted. Only async strategies hedge: a sync attempt cannot be cancelled (a blocked socket read or sleep runs to
its end), so a losing hedge would hold a thread and a connection for the whole slow answer it was meant to beat;
sync strategies run a hedging policy as plain retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tenacity

from orchbench.api import RetryPolicy
from orchbench.harness import timeaccount
from orchbench.harness.attempts import AttemptLog, tenacity_kwargs, timed_attempt

if TYPE_CHECKING:
    from orchbench.runtime.limiter import AttemptSlots

MAX_ATTEMPTS = 100  # per item, for a hedging policy that states no max_attempts
RECHECK_S = 0.05  # while the quantile is unknown (warm-up), how often a running race asks again


async def acall_hedged(
    policy: RetryPolicy,
    transient: tuple[type[BaseException], ...],
    attempt: Callable[[int], Awaitable[Any]],
    log: AttemptLog,
    limiter: AttemptSlots | None = None,
) -> Any:
    """Like :func:`~orchbench.harness.attempts.acall_with_retry`, each try being a race of hedged attempts (the
    first race runs bare, tenacity only after it failed)."""
    most = policy.max_attempts or MAX_ATTEMPTS
    try:
        return await _Race(policy, transient, attempt, log, limiter, most).run()
    except transient as exc:
        failed: BaseException | None = exc
    kwargs = tenacity_kwargs(policy, transient)
    policy_stop = kwargs["stop"]
    kwargs["stop"] = lambda state: policy_stop(state) or log.attempts >= most
    value = None
    async for state in tenacity.AsyncRetrying(sleep=timeaccount.aretry_sleep, **kwargs):
        with state:
            if failed is not None:  # tenacity's first try is the race that already failed
                first, failed = failed, None
                raise first
            value = await _Race(policy, transient, attempt, log, limiter, most).run()
    return value


@dataclass(eq=False)
class _Race:
    """One race. Its first attempt runs in the race's own task, and a timer starts hedges beside it: a race that
    no hedge joins (most of them) costs a timer, not a task per attempt. A hedge that wins interrupts the first
    attempt (a cancellation of that task, taken back once caught). When the first attempt fails while hedges
    still run, the race goes on over them (:meth:`rest`)."""

    policy: RetryPolicy
    transient: tuple[type[BaseException], ...]
    attempt: Callable[[int], Awaitable[Any]]
    log: AttemptLog
    limiter: AttemptSlots | None
    most: int  # attempts of the item, hedges included, at the most

    def __post_init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.running: dict[asyncio.Task[Any], bool] = {}  # attempts in their own tasks → started as a hedge
        self.last_launch = self.not_before = self.loop.time()
        self.error: BaseException | None = None
        self.decided: asyncio.Task[Any] | None = None  # a hedge that ended the race (its success, or a hard error)
        self.waiting: asyncio.Task[Any] | None = None  # the race's task, while it awaits its first attempt itself
        self.timer: asyncio.Handle | None = None
        self.for_room = self.policy.hedge_spare_only and self.limiter is not None  # hedges only into spare room

    def count(self, hedge: bool) -> int:
        self.log.attempts += 1
        self.log.hedges += hedge
        self.policy.launched(hedge)
        return self.log.attempts

    def launch(self, hedge: bool) -> None:
        k = self.count(hedge)
        task = asyncio.ensure_future(
            timed_attempt(self.policy, self.attempt, k, self.log, self.limiter, self.policy.observe)
        )
        task.add_done_callback(self.ended)
        self.running[task] = hedge
        self.last_launch = self.loop.time()

    def hedge_due(self) -> tuple[bool, float | None]:
        """(start a hedge now, else seconds until it is worth asking again; None: never in this race, or, for a
        policy that hedges only into spare room, once there is some)."""
        if len(self.running) + (self.waiting is not None) >= self.policy.hedge_copies or self.log.attempts >= self.most:
            return False, None
        if self.for_room and not self.limiter.spare():  # type: ignore[union-attr]
            return False, None  # every slot is taken or wanted
        delay = self.policy.hedge_delay()
        if delay is None:
            return False, RECHECK_S  # not warm, or out of budget, yet: look again, it may still be hedged
        wait = max(self.last_launch + delay, self.not_before) - self.loop.time()
        if wait > 0:
            return False, wait
        return True, None  # due (or copies at once): launched without a wait, however short

    def arm(self) -> None:
        """While the first attempt runs in the race's task: start the hedges that are due, and a timer for the next
        (or, waiting for spare room, a word from the limiter)."""
        while True:
            now, wait = self.hedge_due()
            if not now:
                break
            self.launch(True)
        if wait is not None:
            self.timer = self.loop.call_later(wait, self.ring)
        elif self.for_room and len(self.running) + 1 < self.policy.hedge_copies and self.log.attempts < self.most:
            self.limiter.when_spare(self.ring)  # type: ignore[union-attr]

    def ring(self) -> None:
        self.timer = None
        if self.waiting is not None and self.decided is None:
            self.arm()

    def ended(self, task: asyncio.Task[Any]) -> None:
        if self.running.get(task):
            self.policy.hedge_ended()
        if self.waiting is None or self.decided is not None or task.cancelled():
            return  # :meth:`rest` looks at it, or the race is over
        del self.running[task]
        exc = task.exception()
        if exc is None or not isinstance(exc, self.transient):
            self.decided = task
            self.waiting.cancel()  # interrupts the first attempt; run() takes the cancellation back
            return
        self.note_failure(exc)
        if self.timer is None:  # a failed hedge frees its place
            self.arm()

    def note_failure(self, exc: BaseException) -> None:
        self.error = exc
        # a failed attempt frees its place; a hedge may take it, but not before a Retry-After
        self.not_before = max(self.not_before, self.loop.time() + (getattr(exc, "retry_after", None) or 0.0))

    async def run(self) -> Any:
        me = asyncio.current_task()
        assert me is not None
        k = self.count(False)
        self.waiting = me
        if self.for_room:  # the limiter tells when its room is spare (at once, if so once the attempt has its slot)
            self.limiter.when_spare(self.ring)  # type: ignore[union-attr]
        elif self.policy.hedge_copies > 1:  # once the first attempt has its slot, or waits for one
            self.timer = self.loop.call_soon(self.ring)
        try:
            try:
                return await timed_attempt(self.policy, self.attempt, k, self.log, self.limiter, self.policy.observe)
            except asyncio.CancelledError:
                self.waiting = None
                if self.decided is None or me.uncancel() > 0:
                    raise  # cancelled from outside
                if self.decided.exception() is None:
                    self.log.hedges_won += 1
                return self.decided.result()  # a hard error of a hedge is raised here
            except self.transient as exc:
                self.waiting = None
                self.note_failure(exc)
                if not self.running:
                    raise
            self.waiting = None
            return await self.rest()
        finally:
            self.waiting = None
            if self.timer is not None:
                self.timer.cancel()
            if self.for_room:
                self.limiter.forget(self.ring)  # type: ignore[union-attr]
            for loser in self.running:
                loser.cancel()
            if self.running:
                await asyncio.wait(self.running)

    async def rest(self) -> Any:
        """The race once its first attempt failed: over the hedges in flight, starting more as they are due."""
        while self.running:
            now, timeout = self.hedge_due()
            if now:
                self.launch(True)
                continue
            if timeout is None and self.for_room:
                timeout = RECHECK_S  # no spare room yet: look again
            done, _ = await asyncio.wait(self.running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                hedge = self.running.pop(finished)
                exc = finished.exception()
                if exc is None:
                    self.log.hedges_won += hedge
                    return finished.result()
                if not isinstance(exc, self.transient):
                    raise exc
                self.note_failure(exc)
        assert self.error is not None
        raise self.error
