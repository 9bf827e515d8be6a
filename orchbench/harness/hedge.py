"""The hedged attempt loop: for an idempotent task, start another attempt beside one that is slower than usual,
take the first success and cancel the rest.

Each tenacity attempt of :func:`acall_hedged` is one *race*: the first attempt starts; whenever the newest one
has run for the policy's ``hedge_delay()`` and fewer than ``hedge_copies`` are in flight, another starts beside
it (one that failed frees its place, after any ``Retry-After`` it asked for, so a slow survivor is hedged too).
While ``hedge_delay()`` is None (no idea yet what slow means, or out of budget) the race asks again every
:data:`RECHECK_S`. The first success wins and the others are cancelled; when every attempt in flight has failed,
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
from typing import TYPE_CHECKING, Any

import tenacity

from orchbench.api import RetryPolicy
from orchbench.harness.attempts import AttemptLog, tenacity_kwargs, timed_attempt

if TYPE_CHECKING:
    from orchbench.harness.limiter import AttemptSlots

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
        return await _race(policy, transient, attempt, log, limiter, most)
    except transient as exc:
        failed: BaseException | None = exc
    kwargs = tenacity_kwargs(policy, transient)
    policy_stop = kwargs["stop"]
    kwargs["stop"] = lambda state: policy_stop(state) or log.attempts >= most
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
    running: dict[asyncio.Task[Any], bool] = {}  # attempt → started as a hedge

    def launch(hedge: bool) -> None:
        log.attempts += 1
        log.hedges += hedge
        policy.launched(hedge)
        future = asyncio.ensure_future(timed_attempt(policy, attempt, log.attempts, log, limiter, policy.observe))
        if hedge:
            future.add_done_callback(lambda _: policy.hedge_ended())
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
