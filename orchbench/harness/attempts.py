"""The attempt loops every task call runs through: attempts under a retry policy's timeout, stop and wait, on
tenacity. The policies themselves are plugins (the built-ins in :mod:`orchbench.harness.retry`); the hedged loop
is :mod:`orchbench.harness.hedge`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import tenacity

from orchbench.api import RetryPolicy
from orchbench.errors import AttemptTimeout, WaitRefused
from orchbench.harness import timeaccount
from orchbench.runtime import deadline

if TYPE_CHECKING:
    from orchbench.runtime.limiter import AttemptSlots


class AttemptLog:
    """The attempts of one task call: how many (hedges included), how long each took, how many were hedges."""

    __slots__ = ("attempts", "latencies", "hedges", "hedges_won")

    def __init__(self) -> None:
        self.attempts = 0
        self.latencies: list[float] = []
        self.hedges = 0
        self.hedges_won = 0


def _honour_retry_after(inner: Any, policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    """The policy's wait, but never shorter than a ``retry_after`` the failure asked for, within the policy's
    ``retry_after_cap_s`` and what is left of its ``wait_budget_s`` for this item: an asked wait beyond either
    raises WaitRefused (the item fails at once, with the reason); the policy's own backoff is cut to what is left."""

    def wait(state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        asked = getattr(failure, "retry_after", None)
        own = inner(state)
        left = max(policy.wait_budget_s - state.idle_for, 0.0)
        if asked is None:
            return min(own, left)
        if asked <= own:  # the service asked for a wait (it was refusing work), and the policy's own is longer
            timeaccount.note_retry_after(min(own, left))
            return min(own, left)
        cap = policy.retry_after_cap_s
        if asked > cap:
            raise WaitRefused(f"{failure}; asked to wait {asked:g} s; cap {cap:g} s (retry.retry_after_cap)")
        if asked > left:
            raise WaitRefused(
                f"{failure}; asked to wait {asked:g} s; {left:.3g} s left of this item's wait budget "
                f"({policy.wait_budget_s:g} s, retry.wait_budget)"
            )
        timeaccount.note_retry_after(asked)
        return float(asked)

    return wait


def tenacity_kwargs(policy: RetryPolicy, transient: tuple[type[BaseException], ...]) -> dict[str, Any]:
    """The policy as tenacity ``Retrying`` arguments: its stop and wait (never shorter than a failure's
    ``retry_after``, within the policy's cap and budget), retrying only ``transient`` errors and re-raising the
    last one."""
    return {
        "stop": policy.stop(),
        "wait": _honour_retry_after(policy.wait(), policy),
        "retry": tenacity.retry_if_exception_type(transient),
        "reraise": True,
    }


def call_with_retry(
    policy: RetryPolicy, transient: tuple[type[BaseException], ...], attempt: Callable[[int], Any], log: AttemptLog
) -> Any:
    """Run ``attempt(k)`` for k = 1, 2, … under the policy; each attempt is cut at the policy's timeout.

    The first attempt runs bare; tenacity's machinery is built only once an attempt has failed (most never do).
    """
    log.attempts = 1
    try:
        return _timed(policy, attempt, 1, log)
    except transient as exc:
        failed: BaseException | None = exc
    value = None
    for state in tenacity.Retrying(sleep=timeaccount.retry_sleep, **tenacity_kwargs(policy, transient)):
        with state:
            if failed is not None:  # tenacity's attempt 1 is the one that already failed
                first, failed = failed, None
                raise first
            log.attempts += 1
            value = _timed(policy, attempt, log.attempts, log)
    return value


def _timed(policy: RetryPolicy, attempt: Callable[[int], Any], k: int, log: AttemptLog) -> Any:
    worker = timeaccount.current()
    start = time.perf_counter()
    try:
        with deadline.attempt_deadline(policy.timeout_s):
            return attempt(k)
    finally:
        elapsed = time.perf_counter() - start
        log.latencies.append(elapsed)
        if worker is not None:
            worker.attempt_wall += elapsed


async def acall_with_retry(
    policy: RetryPolicy,
    transient: tuple[type[BaseException], ...],
    attempt: Callable[[int], Awaitable[Any]],
    log: AttemptLog,
    limiter: AttemptSlots | None = None,
) -> Any:
    """The async form of :func:`call_with_retry`; the timeout cancels the attempt's coroutine. With a
    ``limiter``, each attempt waits for room under its limit first and reports how it went."""
    log.attempts = 1
    try:
        return await timed_attempt(policy, attempt, 1, log, limiter)
    except transient as exc:
        failed: BaseException | None = exc
    value = None
    async for state in tenacity.AsyncRetrying(sleep=timeaccount.aretry_sleep, **tenacity_kwargs(policy, transient)):
        with state:
            if failed is not None:
                first, failed = failed, None
                raise first
            log.attempts += 1
            value = await timed_attempt(policy, attempt, log.attempts, log, limiter)
    return value


async def timed_attempt(
    policy: RetryPolicy,
    attempt: Callable[[int], Awaitable[Any]],
    k: int,
    log: AttemptLog,
    limiter: AttemptSlots | None = None,
    on_success: Callable[[float], None] | None = None,
) -> Any:
    """Attempt ``k`` under the policy's timeout (and the limiter, which lets an item's later attempts in first),
    its latency appended to the log."""
    worker = timeaccount.current()
    asked = time.perf_counter()
    epoch = await limiter.acquire(k == 1) if limiter is not None else 0
    error: BaseException | None = None
    start = time.perf_counter()
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await timeaccount.stepped(attempt(k), worker)
    except TimeoutError as exc:
        error = exc if isinstance(exc, AttemptTimeout) else AttemptTimeout("attempt timed out")
        if error is exc:
            raise
        raise error from None
    except BaseException as exc:
        error = exc
        raise
    finally:
        elapsed = time.perf_counter() - start
        log.latencies.append(elapsed)
        if worker is not None:
            worker.attempt_wall += elapsed
            worker.slot_wait += start - asked
        if limiter is not None:
            limiter.release(epoch, elapsed, error)
        if error is None and on_success is not None:
            on_success(elapsed)
