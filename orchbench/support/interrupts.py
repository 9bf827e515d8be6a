"""SIGTERM and SIGHUP end orchbench as cleanly as Ctrl-C: they take the same clean-up path, and only the exit
status differs.

SIGTERM (a ``kill``) and SIGHUP (a closed terminal, a dropped SSH session) are turned into whatever SIGINT does in
this process (a ``KeyboardInterrupt``, or asyncio's graceful cancellation of its main task), once: a repeated
signal does not cut the bounded clean-up short. A SIGHUP that was ignored when orchbench started (``nohup``) stays
ignored. The exit status follows the shell's convention, 128 + the signal's number: 130 after Ctrl-C, 143 after
SIGTERM, 129 after SIGHUP.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
EXIT_HANGUP = 128 + signal.SIGHUP  # 129
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _State:
    pid: int | None = None  # the process that installed the handlers (a forked child must not use them)
    ending: int | None = None  # the SIGTERM or SIGHUP received, if any
    deferring = 0
    pending = False
    signalled = False  # whether a SIGINT, SIGTERM or SIGHUP reached the handlers since install()


def terminated() -> bool:
    """Whether this process has received SIGTERM or SIGHUP since :func:`install` (a signal that asks it, and the
    processes it started, to end)."""
    return _State.ending is not None


def signalled() -> bool:
    """Whether a KeyboardInterrupt here may come from Ctrl-C, SIGTERM or SIGHUP: True once one reached this
    process's handlers, and always where this module does not handle Ctrl-C (it cannot know). False means a
    KeyboardInterrupt was raised by some code itself (e.g. a plugin's, while it loads)."""
    return _State.signalled or signal.getsignal(signal.SIGINT) is not _on_sigint


def ended_by_signal(returncode: int) -> bool:
    """Whether a child's exit status says it ended because of an interrupt or a signal like the one we received."""
    return returncode == EXIT_INTERRUPTED or (terminated() and returncode in (EXIT_TERMINATED, EXIT_HANGUP))


def exit_status() -> int:
    """The conventional status of an interrupted process, for its main function to return once the interrupt is
    handled: 143 after SIGTERM, else 130."""
    # A KeyboardInterrupt leaving code that exec() or eval() ran from a string (dataclasses and namedtuple build
    # their methods so, and start-up builds many) marks the interpreter as ended by an unhandled Ctrl-C, even once
    # caught; a `python -m` process then kills itself with SIGINT at exit, whatever status it returns. A string
    # run to its end clears the mark.
    exec("")
    return EXIT_INTERRUPTED if _State.ending is None else 128 + _State.ending


def describe() -> str:
    endings: dict[int | None, str] = {
        None: "interrupted",
        signal.SIGTERM: "terminated (SIGTERM)",
        signal.SIGHUP: "hung up (SIGHUP)",
    }
    return endings[_State.ending]


def _foreign(signum: int) -> bool:
    """In a process forked from the installer, fall back to the default action (a worker must still die)."""
    if os.getpid() == _State.pid:
        return False
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return True


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if _foreign(signum):
        return
    _State.signalled = True
    if _State.deferring:
        _State.pending = True
        return
    raise KeyboardInterrupt


def _on_ending(signum: int, frame: FrameType | None) -> None:
    if _foreign(signum) or _State.ending is not None:
        return
    _State.ending, _State.signalled = signum, True
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)  # asyncio's own handler, ours, or Python's default (KeyboardInterrupt)
    elif _State.deferring:
        _State.pending = True
    else:  # SIGINT is ignored here, SIGTERM must still end the process
        raise KeyboardInterrupt


def install(*, own_sigint: bool = True) -> Callable[[], None]:
    """Handle SIGTERM and SIGHUP (and, with ``own_sigint``, SIGINT, so that :func:`deferred` can hold it) in
    this process.

    Returns a function that restores the previous handlers. Does nothing outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _State.pid, _State.ending, _State.deferring, _State.pending = os.getpid(), None, 0, False
    _State.signalled = False
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *ENDING_SIGNALS)}
    if own_sigint and previous[signal.SIGINT] is signal.default_int_handler:  # an ignored SIGINT stays ignored
        signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_ending)
    if previous[signal.SIGHUP] is not signal.SIG_IGN:  # under nohup, a hang-up stays ignored
        signal.signal(signal.SIGHUP, _on_ending)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        _State.pid = None

    return restore


@contextmanager
def sigint_held() -> Iterator[None]:
    """Block SIGINT in this thread meanwhile. A process started meanwhile inherits the block, so Ctrl-C cannot
    reach it while its interpreter starts (Python would print a KeyboardInterrupt traceback); it calls
    :func:`release_sigint` once it can handle one, and a Ctrl-C pressed meanwhile is delivered then."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def release_sigint() -> None:
    """Unblock SIGINT (see :func:`sigint_held`); a pending one is raised here as KeyboardInterrupt."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def deferred() -> Iterator[None]:
    """Hold an interrupt that arrives inside the block until it ends (e.g. while a results file is written, or
    while a pool starts a worker it must know of to stop it), whoever handles Ctrl-C in this process: ours,
    Python's default (a run process) or asyncio's, which then gets the held Ctrl-C once the block ends."""
    if _State.pid != os.getpid():
        yield
        return
    borrowed = _borrow_sigint()
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
        if borrowed is not None:
            signal.signal(signal.SIGINT, borrowed)
        if not _State.deferring and _State.pending:
            _State.pending = False
            if borrowed is None:
                raise KeyboardInterrupt
            borrowed(signal.SIGINT, None)


def _borrow_sigint() -> Callable[[int, FrameType | None], Any] | None:
    """In the main thread, route Ctrl-C to our handler (which can hold it) and return the handler it replaced;
    None when ours is already in place, Ctrl-C is ignored, or this is another thread (whose signals the main
    thread handles anyway)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler) or handler is _on_sigint:
        return None
    signal.signal(signal.SIGINT, _on_sigint)
    return handler
