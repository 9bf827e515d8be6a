"""Errors with a meaning for the user or the harness."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input or a bad option: the CLI prints this as one line and exits with status 2."""


class StrategyError(RuntimeError):
    """A strategy raised, or broke its contract; the message names it and the plugin that supplied it."""


class InjectedFault(Exception):
    """A transient failure injected by the harness's fault model."""


class AttemptTimeout(TimeoutError):
    """An attempt ran past the retry policy's per-attempt timeout."""


class TransientError(Exception):
    """Raise (or subclass) from a task for a failure worth retrying; ``retry_after`` asks for a minimum wait."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WaitRefused(Exception):
    """A failure asked (``retry_after``, e.g. a ``Retry-After`` header) for a wait longer than the retry policy
    allows (its ``retry_after_cap``, or what is left of its ``wait_budget``): the item fails at once, with the
    reason, instead of waiting. Never retried."""
