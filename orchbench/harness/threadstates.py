"""Which of the threads sharing one process's GIL wait for it, sampled from the kernel by a process of its own.

A thread waiting for the GIL sleeps on a futex, as one waiting on a lock does, so its off-CPU time looks like any
other wait. Where several threads of one process run items, that process starts a *sampler process* (this file, run
as a script by a fresh interpreter). Every :data:`PERIOD_S` it looks at up to :data:`PER_TICK` of the threads that
are inside an item and reads the state each is in (``/proc/PID/task/TID/syscall``): running (on a CPU, or
runnable), asleep in a ``futex`` wait on the GIL's own words (they lie at the start of CPython's runtime state,
:func:`gil_words`), or asleep in any other call. :mod:`orchbench.harness.account` splits the threads' sleeping time
between the GIL and other waits in the proportion of the samples.

The sampler is a process, not a thread, because a thread of the sampled process would need the GIL itself to look:
it could look only at the moments the GIL was handed to it, which are not a fair sample of time (they follow a
thread's release of the GIL to go to sleep, and its own asking pushes the running thread off the GIL). A process
looks at moments the sampled threads have no part in. It is not forked: a fork write-protects every page of the
sampled process, which then pays a fault for each page it writes (about 60 ms for 80 MB here); a shell started
without copying anything leaves it behind, so it is no child of the run either (the run's CPU and memory figures
cover its tree: the sampler, like the parent's own sampler, is the instrument, not the pipeline). It starts in
about 0.1 s; a run shorter than that, or a busy machine, leaves the GIL unknown for lack of samples.

The two processes share one small memory map (:class:`Shared`, on a memory file): the sampled process writes which
of its threads are inside an item, the sampler adds its counts. Where any of this is unavailable (not Linux, an
unknown architecture, ``/proc`` unreadable or not readable by another process, an interpreter without the
``_PyRuntime`` symbol), the GIL part stays unknown.
"""

from __future__ import annotations

import mmap
import os
import platform
import random
import re
import select
import sys
import threading

PERIOD_S = 0.01
PER_TICK = 8  # threads looked at per tick, at most: a read costs the sampler a system call
SLOTS = 4096  # threads of one process that can be sampled (the threads strategy's largest pool)
GIL_WINDOW = 4096  # bytes from the start of the runtime state within which its GIL lies
READY_WAIT_S = 1.0  # how long the sampler waits to be let read the threads before it gives up
STARTING_WAIT_S = 5.0  # how long stopping waits for the sampler to have started (its shell returns at once)
FUTEX = {"x86_64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98, "ppc64le": 221, "s390x": 238}.get(platform.machine())
RUNNING, GIL, OTHER = range(3)  # the states counted, per thread
_USED, _STOP, _DENIED, _TICKS, _PID, _READY = range(6)  # the header's words
_HEADER = 8
_SIZE = 8 * (_HEADER + SLOTS + 3 * SLOTS) + SLOTS
_INSIDE = re.compile(b"[^\x00]")


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


class Shared:
    """The memory both processes see: a header, each slot's thread id, its counts, and whether it is in an item."""

    def __init__(self, fd: int) -> None:
        self.map = mmap.mmap(fd, _SIZE, flags=mmap.MAP_SHARED)
        view = memoryview(self.map)
        words = view[: 8 * (_HEADER + 4 * SLOTS)].cast("q")
        self.header = words[:_HEADER]
        self.tids = words[_HEADER : _HEADER + SLOTS]
        self.counts = words[_HEADER + SLOTS :]
        self.inside = view[8 * (_HEADER + 4 * SLOTS) :]


class StateSampler:
    """In the sampled process: its threads' slots, and the sampler process that counts their states."""

    def __init__(self, gil: tuple[int, int]) -> None:
        memory = os.memfd_create("orchbench-thread-states")
        os.ftruncate(memory, _SIZE)
        self.shared = Shared(memory)
        self.pid = 0
        self.slots: dict[int, int] = {}
        self._lock = threading.Lock()
        watch, self._alive = os.pipe()  # the sampler ends when this end closes: on stop, or if this process dies
        # started on a thread of its own: the item that needed it does not wait for it
        self._starting = threading.Thread(
            target=self._start, args=(memory, watch, gil), name="orchbench-thread-states", daemon=True
        )
        self._starting.start()

    def _start(self, memory: int, watch: int, gil: tuple[int, int]) -> None:
        """Start the sampler process: by a shell that leaves it behind (so it is no child of this process), from a
        spawn that copies nothing of this process's memory. A few calls that each let the GIL go: threads busy with
        it (the very ones to sample) make every return to Python code wait."""
        answer, told = os.pipe()
        try:
            for fd in (memory, watch):
                os.set_inheritable(fd, True)
            args = [str(a) for a in (os.getpid(), memory, watch, *gil)]
            shell = os.posix_spawn(
                "/bin/sh",
                ["sh", "-c", '"$@" </dev/null >/dev/null 2>&1 & echo $!', "sh", sys.executable, "-I", "-S", __file__]
                + args,
                os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, told, 1), (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
            )
            os.close(told)
            told = -1
            pid = int(os.read(answer, 64))  # the shell's answer, then its end
            os.waitpid(shell, 0)
        except (OSError, ValueError):
            return  # no sampler: no samples, the GIL's part stays unknown
        finally:
            for fd in (answer, told, watch, memory):
                if fd >= 0:
                    os.close(fd)
        _allow_reading(pid)
        self.pid = pid
        self.shared.header[_READY] = 1

    def slot(self, tid: int) -> int | None:
        """The slot of a thread (the same for its whole life), or None when every slot is taken."""
        with self._lock:
            slot = self.slots.get(tid)
            if slot is None and len(self.slots) < SLOTS:
                slot = self.slots[tid] = len(self.slots)
                self.shared.tids[slot] = tid
                self.shared.header[_USED] = len(self.slots)
        return slot

    def counts(self, slot: int) -> tuple[int, int, int]:
        """The states a thread was caught in so far: running, waiting for the GIL, in any other wait."""
        c = self.shared.counts
        return c[3 * slot + RUNNING], c[3 * slot + GIL], c[3 * slot + OTHER]

    @property
    def works(self) -> bool:
        """Whether the sampler process could read the threads' states (so far)."""
        return self.pid > 0 and not self.shared.header[_DENIED]

    def stop(self) -> None:
        self.shared.header[_STOP] = 1
        os.close(self._alive)
        self._starting.join(STARTING_WAIT_S)


def _allow_reading(pid: int) -> None:
    """Let the sampler process read this one's threads where Yama's ptrace scope would refuse it (only a process's
    ancestors may, there): ``prctl(PR_SET_PTRACER, pid)``, for that one process; harmless where Yama is absent."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(0x59616D61, pid, 0, 0, 0)
    except (AttributeError, OSError):
        pass


_sampler: StateSampler | None = None
_lock = threading.Lock()


def ensure() -> StateSampler | None:
    """This process's sampler (started once); None where it cannot work."""
    global _sampler
    if FUTEX is None or not os.path.exists("/proc/self/task") or not hasattr(os, "memfd_create"):
        return None
    with _lock:
        if _sampler is None:
            gil = gil_words()
            if gil is None:
                return None
            try:
                _sampler = StateSampler(gil)
            except OSError:
                return None
        return _sampler


def current() -> StateSampler | None:
    return _sampler


def stop() -> None:
    """Stop this process's sampler, if one runs."""
    global _sampler
    with _lock:
        sampler, _sampler = _sampler, None
    if sampler is not None:
        sampler.stop()


def _forget_in_child() -> None:
    """A forked child has no sampler of its own (its parent's slots describe the parent's threads)."""
    global _sampler, _lock
    _sampler, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


# --- the sampler process --------------------------------------------------------------------------------------


def _sample(shared: Shared, pid: int, watch: int, gil: tuple[int, int]) -> None:
    """Count, until told to stop or the sampled process ends, the states of its threads that are inside an item."""
    header, tids, counts = shared.header, shared.tids, shared.counts
    futex, (low, high) = str(FUTEX).encode(), gil
    files: dict[int, int] = {}
    waited = 0.0
    while not header[_READY]:  # until the sampled process has let this one read its threads
        if select.select([watch], [], [], PERIOD_S)[0] or waited > READY_WAIT_S:
            return
        waited += PERIOD_S
    while not header[_STOP]:
        if select.select([watch], [], [], PERIOD_S)[0]:  # the sampled process closed its end, or ended
            return
        inside = [m.start() for m in _INSIDE.finditer(shared.inside[: header[_USED]])]
        if len(inside) > PER_TICK:
            inside = random.sample(inside, PER_TICK)
        for slot in inside:
            tid = tids[slot]
            try:
                f = files.get(tid)
                if f is None:
                    f = files[tid] = os.open(f"/proc/{pid}/task/{tid}/syscall", os.O_RDONLY)
                call = os.pread(f, 256, 0).split()
            except PermissionError:
                header[_DENIED] = 1
                return
            except OSError:  # the thread ended
                continue
            if not call:
                continue
            if call[0] == b"running":  # on a CPU, or runnable in the run queue
                state = RUNNING
            elif call[0] == futex and len(call) > 1 and low <= int(call[1], 16) <= high:
                state = GIL
            else:
                state = OTHER
            counts[3 * slot + state] += 1
        header[_TICKS] += 1


if __name__ == "__main__":
    _pid, _memory, _watch, _low, _high = (int(a) for a in sys.argv[1:6])
    _sample(Shared(_memory), _pid, _watch, (_low, _high))
