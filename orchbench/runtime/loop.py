"""The event loop the async strategies run on: uvloop's when it is installed, else asyncio's own.

uvloop is optional (``pip install uvloop``, or orchbench's ``fast`` extra); ``ORCHBENCH_LOOP=asyncio`` keeps the
standard loop even when uvloop is installed, for comparisons. The loop in use is recorded in the results'
environment (``event_loop``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

LOOP_ENV = "ORCHBENCH_LOOP"
LOOPS = ("uvloop", "asyncio")

T = TypeVar("T")


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the loop to run on (None: asyncio's default), as ``ORCHBENCH_LOOP`` and the installed
    packages allow. An unknown value of the variable, or ``uvloop`` without uvloop, is a usage error."""
    from orchbench.errors import UsageError

    wanted = os.environ.get(LOOP_ENV, "").strip().lower()
    if wanted and wanted not in LOOPS:
        raise UsageError(f"{LOOP_ENV}={wanted!r} is not one of {', '.join(LOOPS)}")
    if wanted == "asyncio":
        return None
    factory = _uvloop_factory()
    if factory is None and wanted == "uvloop":
        raise UsageError(f"{LOOP_ENV}=uvloop but uvloop is not installed (pip install uvloop)")
    return factory


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop :func:`run_loop` uses here."""
    try:
        return "asyncio" if loop_factory() is None else "uvloop"
    except Exception:  # a bad ORCHBENCH_LOOP is reported where a loop is started
        return "asyncio"


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the chosen loop (a fresh loop, closed at the end, Ctrl-C cancelling ``main``)."""
    try:
        factory = loop_factory()
    except BaseException:
        main.close()  # never run: no "never awaited" warning on top of the error
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
