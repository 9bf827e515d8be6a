"""Where a run's time went, recorded where items run: the hooks of the time account.

Every process that runs items (the run process, pool workers) keeps one :class:`Recorder`. The task calls
:func:`item_begin` / :func:`item_end` around each item and the attempt loops add each attempt's figures to the item's
worker (:func:`current`), so what is known of an item is known where it runs:

- a *worker* is the thread that runs items (a pool's thread, a process's main thread, an event loop's thread); an
  event loop's worker runs many items at once, each in its own coroutine;
- per attempt: its wall time, and for async attempts the wall time of the coroutine's own steps, how long it waited
  for the loop before each step, and how long it waited for an attempt slot; the waits between attempts;
- per worker: its thread's CPU time (its CPU clock) and run-queue wait (runnable, not running: the kernel's
  ``/proc/thread-self/schedstat``), as its first item starts and as an item ends (at most once a millisecond: a
  read is a system call);
- per item (up to :data:`MAX_SPANS` per process): its span, attempts and success, for the timeline.

Worker processes hand what they recorded back with each chunk's outcomes (:func:`call_chunk`); the run process
merges it (:func:`absorb`) and :mod:`orchbench.harness.account` turns it into the run's ``time_account``.
All clocks are ``time.monotonic`` (``CLOCK_MONOTONIC``: one clock for every process of the machine).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Generator
from contextvars import ContextVar
from typing import Any

from orchbench.harness import threadstates

ENABLED = os.environ.get("ORCHBENCH_ACCOUNT", "").strip().lower() not in ("0", "off", "no")  # off: for measuring
# the accounting's own cost (benchmarks/account_overhead.py); every part of the account is then unknown
MAX_SPANS = 5000  # item spans kept per process for the timeline; the sums cover every item
LOOP_IDLE_S = 0.0005  # a pause of the loop between items' steps longer than this: it was idle (or elsewhere)
RUNQ_EVERY_S = 0.001  # a worker's run-queue wait is read as an item ends, at most this often (a read costs a syscall)
_monotonic = time.monotonic
_thread_time = time.thread_time


# What a worker's record holds (:meth:`Worker.to_dict`), handed from where items ran to the account: the figures that
# add up when one worker's record comes in pieces (a pool's worker process hands one back per chunk), then the rest
SUMMED = (
    "items",
    "attempts",
    "busy",
    "attempt_wall",
    "cpu",
    "steps_wall",
    "loop_overlap",
    "slot_wait",
    "retry_after",
    "retry_wait",
    "gil_samples",
    "wait_samples",
    "run_samples",
)
RECORDED = ("pid", "tid", "kind", *SUMMED, "first", "last", "inflight", "max_inflight", "runq", "spans", "sampled")


class Worker:
    """What one worker (thread) of this process spent its items' time on; seconds."""

    __slots__ = (
        *RECORDED,
        # kept where the items run only
        "runq_fd",
        "runq_base",
        "runq_at",
        "read_raw",
        "gap_cpu",
        "ended_read",
        "loop_busy",
        "stretch",
        "slot",
        "inside",
        "base_samples",
    )

    def __init__(self, kind: str) -> None:
        self.pid, self.tid, self.kind = os.getpid(), threading.get_native_id(), kind
        self.items = self.attempts = 0
        self.first = self.last = 0.0
        self.busy = self.attempt_wall = self.cpu = self.steps_wall = 0.0
        self.loop_overlap = self.slot_wait = self.retry_after = self.retry_wait = 0.0
        self.inflight = self.max_inflight = 0
        self.runq_fd: int | None = None
        self.runq_base: tuple[float, float] | None = None  # the thread's CPU and run-queue wait when first read
        self.runq: float | None = None
        self.runq_at = 0.0  # when it was last read
        self.read_raw = 0.0  # the thread's CPU clock then
        self.gap_cpu = 0.0  # CPU between a sync item's end and the next one's start, read at both ends: not items'
        self.ended_read = False  # whether the last read was at the end of a sync item, with none in flight
        self.spans: list[tuple[float, float, int, bool]] = []
        # async: when the last item's step on this thread ended, and when the loop's current busy stretch began
        self.loop_busy = self.stretch = 0.0
        self.gil_samples = self.wait_samples = self.run_samples = 0  # samples of the thread in an item
        self.slot: int | None = None  # its slot in this process's thread-state sampler, once sampled
        self.inside: Any = None  # where the sampler reads whether it is inside an item (by slot)
        self.base_samples = (0, 0, 0)
        self.sampled = False  # whether its process's sampler could tell the GIL's waits from others

    def read_runq(self) -> None:
        """Read the thread's CPU time (its CPU clock) and run-queue wait (the kernel's ``schedstat``; unknown where
        that is unreadable) since they were first read. Call it on the worker's own thread.

        ``schedstat``'s own CPU figure is not used: the kernel brings a running thread's total up to date only at a
        scheduler event or tick, so read by the thread itself it lags by up to a tick (ms). Its run-queue wait is
        exact when read by the running thread itself: none accrues while it runs."""
        ran = _thread_time()
        waited: float | None = None
        fd = self.runq_fd
        if fd is not None:
            try:
                waited = int(os.pread(fd, 96, 0).split()[1]) / 1e9
            except (OSError, ValueError, IndexError):
                waited = None
        if self.runq_base is None:
            self.runq_base = (ran, waited or 0.0)
        self.cpu = ran - self.runq_base[0] - self.gap_cpu
        self.read_raw = ran
        self.runq = None if waited is None else waited - self.runq_base[1]
        self.runq_at = _monotonic()

    def sample(self, sampler: threadstates.StateSampler) -> None:
        """From now on, let ``sampler`` count the states this worker's thread is caught in during its items."""
        slot = sampler.slot(self.tid)
        if slot is None:
            return
        self.slot, self.inside, self.base_samples = slot, sampler.shared.inside, sampler.counts(slot)
        self.inside[slot] = 1 if self.inflight else 0

    def take_samples(self, sampler: threadstates.StateSampler | None) -> None:
        """The sampler's counts of this worker's thread since it was first sampled."""
        if sampler is None or self.slot is None:
            return
        (run, gil, other), (run0, gil0, other0) = sampler.counts(self.slot), self.base_samples
        self.run_samples, self.gil_samples, self.wait_samples = run - run0, gil - gil0, other - other0
        self.sampled = sampler.works

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RECORDED}


def _open_runq() -> int | None:
    try:
        return os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:  # not Linux, or schedstat not built in: the run-queue wait stays unknown
        return None


class Recorder:
    """This process's workers, by (thread, kind)."""

    def __init__(self) -> None:
        self.workers: dict[tuple[int, str], Worker] = {}
        self.spans = 0
        self._lock = threading.Lock()

    def worker(self, kind: str) -> Worker:
        key = (threading.get_ident(), kind)
        w = self.workers.get(key)
        if w is None:
            with self._lock:
                w = self.workers.setdefault(key, Worker(kind))
                threads = sum(1 for other in self.workers.values() if other.kind == "sync")
            w.runq_fd = _open_runq()
            w.read_runq()
            if kind == "sync":
                self._sample(w, threads)
        return w

    def _sample(self, w: Worker, threads: int) -> None:
        """Threads of one process share its GIL: once two run items, a sampler tells who waits for it."""
        sampler = threadstates.current()
        if sampler is not None:
            w.sample(sampler)
        elif threads > 1 and (sampler := threadstates.ensure()) is not None:
            for other in list(self.workers.values()):
                if other.kind == "sync" and other.slot is None:
                    other.sample(sampler)

    def drain(self) -> list[dict[str, Any]]:
        """Every worker's record since the last drain, and a fresh start (for a worker process, per chunk)."""
        with self._lock:
            workers, self.workers, self.spans = self.workers, {}, 0
        out = []
        me = threading.get_ident()
        sampler = threadstates.current()
        for (ident, _), w in workers.items():
            w.take_samples(sampler)
            if w.runq_fd is not None:
                if ident == me and not w.ended_read:  # read at its last item's end: what came after is not its
                    w.read_runq()
                os.close(w.runq_fd)
            if w.items:
                out.append(w.to_dict())
        return out


RECORDER = Recorder()
_current: ContextVar[Worker | None] = ContextVar("orchbench_account_worker", default=None)


def current() -> Worker | None:
    """The worker of the item this code runs in (None outside an item)."""
    return _current.get()


def item_begin(kind: str = "sync") -> tuple[Worker, float] | None:
    """An item starts on this thread (``kind`` "sync"), or in a coroutine of this thread's loop ("async")."""
    if not ENABLED:
        return None
    w = RECORDER.worker(kind)
    _current.set(w)
    if w.ended_read:  # the CPU since the last item's end (the strategy's own work) is not the items'
        w.gap_cpu += _thread_time() - w.read_raw
        w.ended_read = False
    w.inflight += 1
    if w.slot is not None:
        w.inside[w.slot] = 1
    if w.inflight > w.max_inflight:
        w.max_inflight = w.inflight
    start = _monotonic()
    if not w.items and not w.first:
        w.first = start
    return w, start


def item_end(token: tuple[Worker, float] | None, attempts: int, ok: bool) -> None:
    if token is None:
        return
    w, start = token
    end = _monotonic()
    w.inflight -= 1
    if w.slot is not None and not w.inflight:
        w.inside[w.slot] = 0
    w.items += 1
    w.attempts += attempts
    w.busy += end - start
    if end > w.last:
        w.last = end
    if RECORDER.spans < MAX_SPANS:
        RECORDER.spans += 1
        w.spans.append((start, end, attempts, ok))
    if end - w.runq_at >= RUNQ_EVERY_S:
        w.read_runq()
        w.ended_read = w.kind == "sync" and not w.inflight
    _current.set(None)


def retry_sleep(seconds: float) -> None:
    """The sleep between an item's attempts (sync), timed."""
    start = _monotonic()
    try:
        time.sleep(seconds)
    finally:
        w = _current.get()
        if w is not None:
            w.retry_wait += _monotonic() - start


async def aretry_sleep(seconds: float) -> None:
    """The wait between an item's attempts (async), timed."""
    start = _monotonic()
    try:
        await asyncio.sleep(seconds)
    finally:
        w = _current.get()
        if w is not None:
            w.retry_wait += _monotonic() - start


def note_retry_after(seconds: float) -> None:
    """A wait between attempts followed a failure that asked for one (``Retry-After``: the service refused work):
    the wait asked for, or the policy's own back-off where that was longer."""
    w = _current.get()
    if w is not None:
        w.retry_after += seconds


class Stepped:
    """Await a coroutine while timing each of its own steps on this thread: CPU (``thread_time``) and wall, and how
    long it waited for the loop before each later step.

    A suspended coroutine became ready at some moment after the loop was last idle (an event loop never idles with a
    ready callback), so its wait for the loop is at most the loop's busy stretch before its step: from the end of the
    loop's last pause of more than :data:`LOOP_IDLE_S` between items' steps (or from its suspension, if later)."""

    __slots__ = ("coro", "worker")

    def __init__(self, coro: Any, worker: Worker) -> None:
        self.coro, self.worker = coro, worker

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, w = self.coro, self.worker
        value: Any = None
        error: BaseException | None = None
        suspended = 0.0
        while True:
            w0 = _monotonic()
            if w0 - w.loop_busy > LOOP_IDLE_S:
                w.stretch = w0  # the loop paused before this step: a new busy stretch starts
            if suspended:
                w.loop_overlap += w0 - max(suspended, w.stretch)
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                _step_done(w, w0)
                return stop.value
            except BaseException:
                _step_done(w, w0)
                raise
            _step_done(w, w0)
            suspended = w.loop_busy
            try:
                value, error = (yield yielded), None
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation, a timeout: into the coroutine, as a Task would
                value, error = None, exc


def _step_done(w: Worker, w0: float) -> None:
    w.loop_busy = _monotonic()
    w.steps_wall += w.loop_busy - w0


def stepped(awaitable: Any, worker: Worker | None) -> Any:
    """``awaitable`` timed step by step when it is a coroutine of an item (else as it is)."""
    if worker is None or not hasattr(awaitable, "send"):
        return awaitable
    return Stepped(awaitable, worker)


# --- the process boundary -----------------------------------------------------------------------------------


def _boot() -> str:
    """This machine's boot (the monotonic clock's epoch): records timed on another machine are not comparable."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


BOOT = _boot()


def _chunk_record(start: float, items: int) -> dict[str, Any]:
    end = _monotonic()
    return {"pid": os.getpid(), "boot": BOOT, "start": start, "end": end, "items": items, "workers": RECORDER.drain()}


def call_chunk(fn: Callable[..., Any], pairs: list[Any], *args: Any) -> tuple[Any, dict[str, Any]]:
    """In a worker process: run a pool's chunk function and hand back, with its outcomes, the chunk's span and what
    this process's workers recorded meanwhile."""
    start = _monotonic()
    outcomes = fn(pairs, *args)
    return outcomes, _chunk_record(start, len(pairs))


async def acall_chunk(fn: Callable[..., Any], pairs: list[Any], *args: Any) -> tuple[Any, dict[str, Any]]:
    """:func:`call_chunk` for a chunk function that is a coroutine function (e.g. a Ray actor's on its loop)."""
    start = _monotonic()
    outcomes = await fn(pairs, *args)
    return outcomes, _chunk_record(start, len(pairs))


class Boundary:
    """In the run process: chunks sent to worker processes and what came back (see :func:`call_chunk`)."""

    def __init__(self) -> None:
        self.chunks: list[dict[str, Any]] = []
        self.workers: list[dict[str, Any]] = []

    def received(self, returned: Any, sent_at: float) -> Any:
        """The chunk's outcomes, its record kept with the times it was sent and received."""
        outcomes, record = returned
        workers = record.pop("workers")
        if not BOOT or record.get("boot") != BOOT:  # another machine's clock: its items stay out of sight
            return outcomes
        record["sent"], record["received"] = sent_at, _monotonic()
        self.workers.extend(workers)
        self.chunks.append(record)
        return outcomes


BOUNDARY = Boundary()


def received_chunk(returned: Any, sent_at: float) -> Any:
    """In the run process: the outcomes of a chunk :func:`call_chunk` ran in a worker process, its record kept for
    the time account (``sent_at``: when it was handed to the pool, on the monotonic clock)."""
    return BOUNDARY.received(returned, sent_at)


def reset() -> None:
    """Forget what this process recorded (the run process, as its window opens)."""
    RECORDER.drain()
    BOUNDARY.chunks.clear()
    BOUNDARY.workers.clear()


def collect() -> dict[str, Any]:
    """Everything recorded for the run so far, in this process and received from worker processes."""
    workers = RECORDER.drain() + BOUNDARY.workers
    threadstates.stop()
    return {"workers": workers, "chunks": list(BOUNDARY.chunks)}
