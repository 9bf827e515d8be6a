"""Retry policies (built-in plugins) and the attempt loops that apply them, on tenacity."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import tenacity

from orchbench.api import Option, RetryPolicy
from orchbench.errors import AttemptTimeout
from orchbench.harness import deadline
from orchbench.hookspecs import hookimpl

if TYPE_CHECKING:
    from orchbench.harness.limiter import AttemptSlots

_TIMEOUT = Option(float, 30.0, "per-attempt timeout in seconds", min=0.001, duration=True)


class NoRetry(RetryPolicy):
    name = "none"
    description = "one attempt; a failure is final (the seed's original behaviour)"
    options = {"timeout": Option(float, None, "per-attempt timeout in seconds", min=0.001, duration=True)}

    def stop(self) -> Any:
        return tenacity.stop_after_attempt(1)

    def wait(self) -> Any:
        return tenacity.wait_none()


class FixedRetry(RetryPolicy):
    name = "fixed"
    description = "up to max_attempts, a fixed delay between attempts"
    options = {
        "max_attempts": Option(int, 5, "attempts before giving up", min=1),
        "delay": Option(float, 0.05, "seconds between attempts", min=0, duration=True),
        "timeout": _TIMEOUT,
    }

    def stop(self) -> Any:
        return tenacity.stop_after_attempt(self.options["max_attempts"])

    def wait(self) -> Any:
        return tenacity.wait_fixed(self.options["delay"])


class ExponentialRetry(RetryPolicy):
    name = "exponential"
    description = "exponential backoff with full jitter, capped; up to max_attempts"
    options = {
        "max_attempts": Option(int, 10, "attempts before giving up", min=1),
        "base": Option(float, 0.01, "first backoff in seconds (doubles per attempt)", min=0, duration=True),
        "cap": Option(float, 2.0, "longest backoff in seconds", min=0, duration=True),
        "jitter": Option(bool, True, "full jitter: wait a uniform time up to the backoff"),
        "timeout": _TIMEOUT,
    }

    def stop(self) -> Any:
        return tenacity.stop_after_attempt(self.options["max_attempts"])

    def wait(self) -> Any:
        base, cap = self.options["base"], self.options["cap"]
        if self.options["jitter"]:
            return tenacity.wait_random_exponential(multiplier=base, max=cap)
        return tenacity.wait_exponential(multiplier=base, max=cap)


@hookimpl
def orchbench_retry_policies() -> list[type[RetryPolicy]]:
    from orchbench.harness.hedge import HedgedRetry

    return [NoRetry, FixedRetry, ExponentialRetry, HedgedRetry]


class AttemptLog:
    """The attempts of one task call: how many (hedges included), how long each took, how many were hedges."""

    __slots__ = ("attempts", "latencies", "hedges", "hedges_won")

    def __init__(self) -> None:
        self.attempts = 0
        self.latencies: list[float] = []
        self.hedges = 0
        self.hedges_won = 0


def _honour_retry_after(inner: Any) -> Callable[[tenacity.RetryCallState], float]:
    """The policy's wait, but never shorter than a ``retry_after`` the failure asked for."""

    def wait(state: tenacity.RetryCallState) -> float:
        asked = getattr(state.outcome.exception(), "retry_after", None) if state.outcome else None
        return max(inner(state), asked or 0.0)

    return wait


def _kwargs(policy: RetryPolicy, transient: tuple[type[BaseException], ...]) -> dict[str, Any]:
    return {
        "stop": policy.stop(),
        "wait": _honour_retry_after(policy.wait()),
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
    for state in tenacity.Retrying(**_kwargs(policy, transient)):
        with state:
            if failed is not None:  # tenacity's attempt 1 is the one that already failed
                first, failed = failed, None
                raise first
            log.attempts += 1
            value = _timed(policy, attempt, log.attempts, log)
    return value


def _timed(policy: RetryPolicy, attempt: Callable[[int], Any], k: int, log: AttemptLog) -> Any:
    start = time.perf_counter()
    try:
        with deadline.attempt_deadline(policy.timeout_s):
            return attempt(k)
    finally:
        log.latencies.append(time.perf_counter() - start)


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
    async for state in tenacity.AsyncRetrying(**_kwargs(policy, transient)):
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
    epoch = await limiter.acquire(k == 1) if limiter is not None else 0
    error: BaseException | None = None
    start = time.perf_counter()
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await attempt(k)
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
        if limiter is not None:
            limiter.release(epoch, elapsed, error)
        if error is None and on_success is not None:
            on_success(elapsed)
