"""The built-in retry policies (plugins, registered like third-party ones): none, fixed, exponential, hedged.

The loops that apply a policy are :mod:`orchbench.harness.attempts` and :mod:`orchbench.harness.hedge`. tenacity is
imported by the methods that build its stop and wait: listing the policies (``orchbench list``) needs none of it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from orchbench.api import DEFAULT_RETRY_AFTER_CAP_S, DEFAULT_WAIT_BUDGET_S, Option, RetryPolicy
from orchbench.hookspecs import hookimpl

TIMEOUT = Option(float, 30.0, "per-attempt timeout in seconds", min=0.001, duration=True)
RETRY_AFTER_CAP = Option(
    float,
    DEFAULT_RETRY_AFTER_CAP_S,
    "longest wait a failure may ask for (Retry-After) and be honoured, in seconds; an item asked to wait longer "
    "fails at once, saying so",
    min=0,
    duration=True,
)
WAIT_BUDGET = Option(
    float,
    DEFAULT_WAIT_BUDGET_S,
    "most seconds one item waits between its attempts in all; an asked wait (Retry-After) beyond what is left "
    "fails the item at once, saying so",
    min=0,
    duration=True,
)
# The limits every retrying policy takes, after its own options.
LIMITS = {"timeout": TIMEOUT, "retry_after_cap": RETRY_AFTER_CAP, "wait_budget": WAIT_BUDGET}
WINDOW = 512  # recent successful latencies the hedge quantile is taken over
REFRESH_EVERY = 16  # new samples between two recomputations of the quantile


class NoRetry(RetryPolicy):
    name = "none"
    description = "one attempt; a failure is final (the original exercise's behaviour)"
    options = {"timeout": Option(float, None, "per-attempt timeout in seconds", min=0.001, duration=True)}

    def stop(self) -> Any:
        import tenacity

        return tenacity.stop_after_attempt(1)

    def wait(self) -> Any:
        import tenacity

        return tenacity.wait_none()


class UpToMaxAttempts(RetryPolicy):
    """A policy that retries until its ``max_attempts`` option's attempts have run."""

    def stop(self) -> Any:
        import tenacity

        return tenacity.stop_after_attempt(self.options["max_attempts"])


class FixedRetry(UpToMaxAttempts):
    name = "fixed"
    description = "up to max_attempts, a fixed delay between attempts"
    options = {
        "max_attempts": Option(int, 5, "attempts before giving up", min=1),
        "delay": Option(float, 0.05, "seconds between attempts", min=0, duration=True),
        **LIMITS,
    }

    def wait(self) -> Any:
        import tenacity

        return tenacity.wait_fixed(self.options["delay"])


class ExponentialRetry(UpToMaxAttempts):
    name = "exponential"
    description = "exponential backoff with full jitter, capped; up to max_attempts"
    options = {
        "max_attempts": Option(int, 10, "attempts before giving up", min=1),
        "base": Option(float, 0.01, "first backoff in seconds (doubles per attempt)", min=0, duration=True),
        "cap": Option(float, 2.0, "longest backoff in seconds", min=0, duration=True),
        "jitter": Option(bool, True, "full jitter: wait a uniform time up to the backoff"),
        **LIMITS,
    }

    def wait(self) -> Any:
        import tenacity

        base, cap = self.options["base"], self.options["cap"]
        if self.options["jitter"]:
            return tenacity.wait_random_exponential(multiplier=base, max=cap)
        return tenacity.wait_exponential(multiplier=base, max=cap)


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


class HedgedRetry(UpToMaxAttempts):
    """Exponential retries, and hedges (see :mod:`orchbench.harness.hedge`) whose delay is a quantile of this
    process's recent successful latencies, or a fixed delay.

    Once hedges by quantile make up ``budget`` of the attempts this process started, only one more may run at a
    time: the first latencies observed are the fastest of their wave, so an early quantile is low, and the
    budget keeps that, or any other misjudgement, from multiplying the load, while a tail of slow attempts (the
    last of a chunk) is still hedged one by one. With ``spare_only`` a hedge starts only into spare room (a free
    attempt slot no item's first attempt waits for: the tail of a run), which delays no item, so no budget applies.
    """

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
        "spare_only": Option(
            bool,
            False,
            "hedge only into spare room: a free attempt slot that no item's first attempt waits for (the "
            "run's tail); no budget then",
        ),
        "max_attempts": Option(int, 10, "attempts per item, hedges included, before giving up", min=1),
        "base": Option(
            float, 0.01, "first backoff in seconds after a failed race (doubles, full jitter)", min=0, duration=True
        ),
        "cap": Option(float, 2.0, "longest backoff in seconds", min=0, duration=True),
        **LIMITS,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.window = LatencyWindow()
        self.started = 0  # attempts started in this process, hedges included
        self.hedged = 0
        self.hedging_now = 0  # hedges in flight

    def wait(self) -> Any:
        import tenacity

        return tenacity.wait_random_exponential(multiplier=self.options["base"], max=self.options["cap"])

    @property
    def hedge_copies(self) -> int:
        return self.options["copies"]

    @property
    def hedge_spare_only(self) -> bool:
        return bool(self.options["spare_only"])

    def hedge_delay(self) -> float | None:
        if self.options["copies"] < 2:
            return None
        if self.options["delay"] is not None:
            return self.options["delay"]
        budget = 0.0 if self.options["spare_only"] else self.options["budget"]
        if budget and self.hedged >= budget * self.started and self.hedging_now:
            return None  # over budget, and a hedge is running: wait for more plain attempts, or for it to end
        if len(self.window) < self.options["warmup"]:
            return None  # no idea yet what slow means
        return max(self.options["min_delay"], self.window.quantile(self.options["quantile"]) or 0.0)

    def observe(self, seconds: float) -> None:
        self.window.add(seconds)

    def launched(self, hedge: bool) -> None:
        self.started += 1
        self.hedged += hedge
        self.hedging_now += hedge

    def hedge_ended(self) -> None:
        self.hedging_now -= 1


@hookimpl
def orchbench_retry_policies() -> list[type[RetryPolicy]]:
    return [NoRetry, FixedRetry, ExponentialRetry, HedgedRetry]
