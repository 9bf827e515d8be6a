"""Which of the threads sharing one process's GIL wait for it, sampled from the kernel.

A thread waiting for the GIL sleeps on a futex, as one waiting on a lock does, so its off-CPU time looks like any
other wait. Where several threads of one process run items, a sampler thread looks every :data:`PERIOD_S` at up to
:data:`PER_TICK` of them that are inside an item, and reads the state each is in
(``/proc/self/task/TID/syscall``): running (on a CPU, or runnable), asleep in a ``futex`` wait on the GIL's own
words (they lie at the start of CPython's runtime state, :func:`gil_words`), or asleep in any other call.
:mod:`orchbench.harness.account` splits the threads' sleeping time between the GIL and other waits in the
proportion of the samples. The sampler needs the GIL itself between two reads, so it samples a GIL-bound process
less often, never the reverse: the proportion is of the moments it could look.

Where any of this is unavailable (not Linux, an unknown architecture, ``/proc`` unreadable, an interpreter without
the ``_PyRuntime`` symbol), the GIL part stays unknown.
"""

from __future__ import annotations

import os
import platform
import random
import threading
from collections.abc import Mapping
from typing import Protocol

PERIOD_S = 0.005
PER_TICK = 8  # threads looked at per tick, at most: a read costs a system call and the GIL
GIL_WINDOW = 4096  # bytes from the start of the runtime state within which its GIL lies
FUTEX = {"x86_64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98, "ppc64le": 221, "s390x": 238}.get(platform.machine())


def _syscall(tid: int, fd: int | None = None) -> list[str] | None:
    """The system call a thread of this process sleeps in (``['running']`` when it runs), or None."""
    try:
        if fd is not None:
            return os.pread(fd, 256, 0).decode().split()
        with open(f"/proc/self/task/{tid}/syscall", "rb") as f:
            return f.read().decode().split()
    except OSError:
        return None


def gil_words() -> tuple[int, int] | None:
    """The addresses the GIL's futex words lie between: CPython keeps its GIL (its mutex and condition variables)
    inline near the start of its runtime state ``_PyRuntime`` (here: 440 bytes in, on 3.11), where no other lock a
    thread of the pipeline could wait on lies; None where the symbol cannot be found."""
    try:
        import ctypes

        runtime = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
    except (AttributeError, ValueError, OSError):
        return None
    return runtime, runtime + GIL_WINDOW


class Sampled(Protocol):
    """What the sampler reads and counts of a worker thread (the time account's ``Worker``)."""

    tid: int
    kind: str
    inflight: int
    run_samples: int
    gil_samples: int
    wait_samples: int


class Recorder(Protocol):
    """What the sampler reads of the time account's ``Recorder``: its workers, by (thread, kind)."""

    @property
    def workers(self) -> Mapping[tuple[int, str], Sampled]: ...


class StateSampler:
    """Samples the sleeping threads of a :class:`Recorder`'s sync workers that are inside an item."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.gil = gil_words()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="orchbench-thread-states", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.gil is None:
            return
        futex, (low, high) = str(FUTEX), self.gil
        while not self._stop.wait(PERIOD_S):
            busy = [w for w in list(self.recorder.workers.values()) if w.kind == "sync" and w.inflight]
            if len(busy) > PER_TICK:
                busy = random.sample(busy, PER_TICK)
            for w in busy:
                call = _syscall(w.tid)
                if not call:
                    continue
                if call[0] == "running":  # on a CPU, or runnable in the run queue
                    w.run_samples += 1
                elif call[0] == futex and len(call) > 1 and low <= int(call[1], 16) <= high:
                    w.gil_samples += 1
                else:
                    w.wait_samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)


_sampler: StateSampler | None = None
_lock = threading.Lock()


def ensure(recorder: Recorder) -> StateSampler | None:
    """Start this process's sampler (once); None where it cannot work."""
    global _sampler
    if FUTEX is None or not os.path.exists("/proc/self/task"):
        return None
    with _lock:
        if _sampler is None:
            _sampler = StateSampler(recorder)
    return _sampler


def sampling() -> bool:
    """Whether this process's sampler runs and can tell the GIL's waits from others."""
    sampler = _sampler
    return sampler is not None and sampler.gil is not None


def stop() -> bool | None:
    """Stop the sampler; whether it could tell the GIL's waits (None when none ran)."""
    global _sampler
    with _lock:
        sampler, _sampler = _sampler, None
    if sampler is None:
        return None
    sampler.stop()
    return sampler.gil is not None
