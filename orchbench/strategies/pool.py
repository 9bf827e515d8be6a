"""A supervised process pool, shared by the ``processes`` and ``hybrid`` strategies.

Items travel in chunks, a bounded window of them in flight. Each worker builds the Task once, in its
initializer, from the plain-data RunSpec. When a worker dies (a crash fault, SIGKILL, the OOM killer) the whole
pool breaks; the supervisor rebuilds it and resubmits only the chunks that had not returned, with their
generation raised by one, so no item is lost or counted twice. After ``restarts`` rebuilds, or a few in a row
with no chunk returned in between, the items still without an outcome become explicit failures.

A worker that stops making progress without dying (stopped with SIGSTOP, frozen in a call that holds the GIL) is
treated as a crashed one: each worker has a thread that writes the time into a shared heartbeat slot, and a
worker silent for longer than the per-attempt timeout plus ``STALL_MARGIN_S`` is killed by the supervisor, which
breaks the pool and takes the crash path above.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from itertools import islice
from typing import TYPE_CHECKING, Any

import orchbench
from orchbench import Option, Outcome, Strategy

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import Future, ProcessPoolExecutor

    from orchbench import Task

Pair = tuple[int, Any]
Chunk = list[Pair]

WINDOW_PER_WORKER = 2  # one chunk running and one queued per worker: a worker never waits on the parent
STOP_GRACE_S = 2.0  # how long a terminated worker may take to exit before it is killed
DEFAULT_RESTARTS = 100
BEAT_S = 0.5  # how often a worker's heartbeat thread writes the time
STALL_MARGIN_S = 5.0  # beyond the per-attempt timeout, how long a worker may be silent before it counts as lost
NO_TIMEOUT_STALL_S = 60.0  # the silence allowed when the retry policy sets no per-attempt timeout


def start_context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    """forkserver where the platform has it, else spawn; never fork.

    The parent of a run may have threads (an executor's manager thread, a previous strategy's pool), and
    forking a threaded process can copy a held lock into the child. The fork server starts single-threaded
    with the harness imported, so every worker (and every replacement after a crash) forks from a clean,
    warm process instead of paying a fresh interpreter's imports as spawn does. ``preload`` names further
    modules it imports (the Task's :meth:`~orchbench.Task.worker_preload`: the harness and the workload's).
    """
    import multiprocessing  # here, as concurrent.futures below: listing the strategies starts no process

    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__, "orchbench.strategies.asyncio_strategy", *preload])
        return ctx
    return multiprocessing.get_context("spawn")


# --- worker side --------------------------------------------------------------------------------------------

_task: Task | None = None
_setup_error: str | None = None
_worker: Any = None  # this process's worker (runtime.workers.Worker): its resource and its event loop


class WorkerSetupError(RuntimeError):
    """A worker process could not build the run's Task."""


class Heartbeats:
    """A slot (pid, last beat on the monotonic clock) per worker of one pool, in memory shared with the workers.

    Only claiming a slot takes the lock. Beats and the parent's reads go around it (one aligned 8-byte store or
    load each), so a worker stopped in the middle of a beat cannot hold the parent up.
    """

    def __init__(self, ctx: multiprocessing.context.BaseContext, slots: int) -> None:
        self.slots = ctx.Array("d", 2 * slots)  # zeros: free slots

    def claim(self) -> int:
        """In a worker: take a free slot (its pid, the time now) and return its index."""
        raw = self.slots.get_obj()
        with self.slots.get_lock():
            for i in range(0, len(raw), 2):
                if raw[i] == 0:
                    raw[i + 1], raw[i] = time.monotonic(), os.getpid()
                    return i
        raise RuntimeError("more pool workers than heartbeat slots")

    def beat_forever(self, i: int) -> None:
        raw = self.slots.get_obj()
        while True:
            raw[i + 1] = time.monotonic()
            time.sleep(BEAT_S)

    def silent(self, limit_s: float) -> dict[int, float]:
        """In the parent: the workers (pid → seconds) that have not beaten for longer than ``limit_s``."""
        now, values = time.monotonic(), list(self.slots.get_obj())
        return {
            int(values[i]): now - values[i + 1]
            for i in range(0, len(values), 2)
            if values[i] and now - values[i + 1] > limit_s
        }

    def pids(self) -> set[int]:
        return {int(pid) for pid in self.slots.get_obj()[::2] if pid}


class Shared:
    """What a pool's workers share with the parent: the capacity's semaphore (when the workload declares one) and
    the count of worker resources opened, closed, and teardowns that raised."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, capacity: int | None) -> None:
        self.gate = ctx.BoundedSemaphore(capacity) if capacity else None
        self.counts = ctx.Array("q", 3)

    def add(self, opened: int = 0, closed: int = 0, errors: int = 0) -> None:
        with self.counts.get_lock():
            self.counts[0] += opened
            self.counts[1] += closed
            self.counts[2] += errors


class PoolStopped(BaseException):
    """The pool stops this worker (SIGTERM after Ctrl-C or an error) while it runs a chunk."""


_in_chunk = False
_closing: Any = None  # closes this process's worker, once


def _stop_on_term(signum: int, frame: Any) -> None:
    if _in_chunk:
        raise PoolStopped  # unwind the chunk first: its items may be using the resource
    _close_and_exit()


def _close_and_exit() -> None:
    """Close this worker's resource (its counts reach the parent at once), then end the process."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second stop must not cut the teardown short
    try:
        if _closing is not None:
            _closing()
    finally:
        os._exit(0)


def in_chunk(fn: Callable[..., list[Outcome]], *args: Any) -> list[Outcome]:
    """Run a chunk function; if the pool stops this worker meanwhile, close its resource and end."""
    global _in_chunk
    _in_chunk = True
    try:
        return fn(*args)
    except PoolStopped:
        _close_and_exit()
        raise  # not reached
    finally:
        _in_chunk = False


def init_worker(spec: dict[str, Any], heartbeats: Heartbeats | None = None, shared: Shared | None = None) -> None:
    """Pool initializer: start the heartbeat, build this worker's Task once and make this process its worker
    (closed when the process exits, also when the pool stops it early); leave Ctrl-C to the parent, which stops
    the pool."""
    global _task, _setup_error, _worker, _closing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    orchbench.release_sigint()  # held since the fork server started (see start_forkserver); ignored from now on
    if heartbeats is not None:
        threading.Thread(
            target=heartbeats.beat_forever, args=(heartbeats.claim(),), daemon=True, name="orchbench-heartbeat"
        ).start()
    try:
        _task = orchbench.task_for(spec)
    except Exception as exc:  # reported on the first chunk: an initializer that raises would only break the pool
        _setup_error = f"{type(exc).__name__}: {exc}"
        return
    if shared is not None:
        if shared.gate is not None:
            _task.capacity_gate = shared.gate
        _task.workers.on_change = shared.add
    scope = _task.worker()
    _worker = scope.__enter__()
    from multiprocessing import util

    closed: list[bool] = []

    def close_once() -> None:
        if not closed:
            closed.append(True)
            scope.__exit__(None, None, None)

    _closing = close_once
    util.Finalize(None, close_once, exitpriority=100)
    signal.signal(signal.SIGTERM, _stop_on_term)  # from now on a stop has a worker to close


def worker() -> Any:
    """This worker process's worker (what :meth:`~orchbench.Task.worker` gave it)."""
    worker_task()
    return _worker


def worker_task() -> Task:
    """This worker's Task, as built by :func:`init_worker`."""
    if _task is None:
        raise WorkerSetupError(f"a worker process could not build the task: {_setup_error}")
    return _task


def run_batch(pairs: Chunk, generation: int) -> list[Outcome]:
    """Chunk function of the processes strategy: the items one after another."""
    return in_chunk(worker_task().run_batch, pairs, generation)


# --- parent side --------------------------------------------------------------------------------------------


def stall_limit(timeout_s: float | None) -> float:
    """How long a worker may be silent before it counts as lost: the run's per-attempt timeout (``task.timeout_s``)
    plus a margin."""
    return (timeout_s if timeout_s is not None else NO_TIMEOUT_STALL_S) + STALL_MARGIN_S


def chunks(pairs: Iterable[Pair], size: int) -> Iterator[Chunk]:
    """Lazy chunks of ``size`` pairs (the last may be shorter)."""
    it = iter(pairs)
    while chunk := list(islice(it, size)):
        yield chunk


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker, if none runs, with SIGHUP blocked.

    The tracker ignores SIGINT and SIGTERM but not SIGHUP: one killed by a hang-up (the whole group's) is relaunched
    by the run's clean-up, and the new one prints a traceback for every semaphore it never knew. It inherits the
    blocked SIGHUP and keeps it (a mask works from any thread; a handler could be set from the main thread only).
    The first semaphore or shared array starts it, so this comes before any.
    """
    from multiprocessing import resource_tracker

    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def start_forkserver() -> None:
    """Start this process's fork server, if none runs, with Ctrl-C held: the server inherits the hold, so a Ctrl-C
    cannot interrupt its imports (a traceback) before it starts to ignore Ctrl-C; the run stops the pool itself."""
    from multiprocessing import forkserver

    start_resource_tracker()  # the fork server's start would start it, with SIGHUP as it is
    with orchbench.hold_sigint():
        forkserver.ensure_running()


def stop_forkserver() -> None:
    """Stop this process's fork server, if one runs, and reap it.

    The fork server reaps the workers, so their CPU time reaches this process's ``RUSAGE_CHILDREN`` (what the
    runner measures) only once the server itself is reaped; and no server outlives the run's map.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # not public API: without it the server ends when this process does
    if stop is not None:
        stop()


def _close(pool: ProcessPoolExecutor, *, kill: bool, patience_s: float = STOP_GRACE_S) -> None:
    """Shut the pool down; with ``kill``, terminate workers still busy (after Ctrl-C or an error). Without it,
    each worker has ``patience_s`` to exit, and one that does not (stopped, frozen) is killed: an idle worker
    that stopped making progress would otherwise hold the shutdown forever."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # gone after shutdown: take them first
    pool.shutdown(wait=False, cancel_futures=True)
    if kill:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
    deadline = time.monotonic() + (STOP_GRACE_S if kill else patience_s)
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join(STOP_GRACE_S)
    if not kill:
        pool.shutdown(wait=True)  # the pool's manager thread ends once its workers have


class Supervisor:
    """Runs ``fn(chunk, generation, *args)`` over chunks of items in a pool of ``workers`` processes.

    After a crash the lost chunks run first, alone: fresh chunks wait until every resubmitted one has
    returned, so a new crash cannot keep taking down work that was already resubmitted, and a pool that breaks
    ``BARREN_LIMIT`` times in a row without returning a single chunk (a worker that dies on start, a poison
    item) ends the run's pool work at once instead of rebuilding ``restarts`` times.
    """

    BARREN_LIMIT = 3

    def __init__(
        self,
        spec: dict[str, Any],
        fn: Callable[..., list[Outcome]],
        args: tuple[Any, ...] = (),
        *,
        workers: int,
        restarts: int = DEFAULT_RESTARTS,
        preload: Sequence[str] = (),
        on_chunk: Callable[[list[Outcome]], None] | None = None,
        capacity: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.spec = spec
        self.on_chunk = on_chunk  # sees each returned chunk's outcomes (and anything the chunk function attached)
        self.fn = fn
        self.args = args
        self.workers = workers
        self.restarts = restarts
        self.rebuilds = 0
        self.stalls = 0  # workers killed for making no progress
        self.stall_s = stall_limit(timeout_s)  # the run's per-attempt timeout: task.timeout_s
        self._barren = 0  # rebuilds since a chunk last returned
        self._heartbeats: Heartbeats | None = None
        self._unclaimed: dict[int, float] = {}  # workers seen without a heartbeat slot yet, since when
        self._sent: dict[Future, float] = {}  # when each chunk in flight was handed to the pool
        self._ctx = start_context(preload)
        start_resource_tracker()  # before the shared array's lock starts it
        self.shared = Shared(self._ctx, capacity)

    def worker_counts(self) -> tuple[int, int, int]:
        """Worker resources the pool's processes opened, closed, and teardowns that raised (final once the pool
        has stopped, i.e. after :meth:`map`)."""
        opened, closed, errors = self.shared.counts[:]
        return opened, closed, errors

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        from concurrent.futures import ProcessPoolExecutor

        if self._ctx.get_start_method() == "forkserver":
            start_forkserver()
        self._heartbeats, self._unclaimed = Heartbeats(self._ctx, workers), {}
        return ProcessPoolExecutor(
            workers, mp_context=self._ctx, initializer=init_worker, initargs=(self.spec, self._heartbeats, self.shared)
        )

    def _kill_stalled(self, pool: ProcessPoolExecutor) -> None:
        """Kill the pool's workers silent for longer than ``stall_s`` (or never heard from): the pool breaks,
        and their chunks are resubmitted as after a crash."""
        if self._heartbeats is None:
            return
        procs = {pid: proc for pid, proc in (getattr(pool, "_processes", None) or {}).items() if proc.is_alive()}
        stalled = set(self._heartbeats.silent(self.stall_s))
        now, claimed = time.monotonic(), self._heartbeats.pids()
        for pid in procs.keys() - claimed:  # stopped before its heartbeat started
            if now - self._unclaimed.setdefault(pid, now) > self.stall_s:
                stalled.add(pid)
        for pid in stalled & procs.keys():
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # also ends a stopped process
            self.stalls += 1

    def map(self, items: Sequence[Any], chunk: int) -> list[Outcome]:
        """One Outcome per item, in input order."""
        from concurrent.futures import FIRST_COMPLETED, wait

        n = len(items)
        if n == 0:
            return []
        results: list[Outcome | None] = [None] * n
        workers = max(1, min(self.workers, math.ceil(n / chunk)))
        window = WINDOW_PER_WORKER * workers
        fresh = chunks(enumerate(items), chunk)
        again: deque[tuple[Chunk, int]] = deque()  # chunks lost in a crash, with their next generation
        inflight: dict[Future, tuple[Chunk, int]] = {}
        pool = self._pool(workers)
        clean = False
        checked = time.monotonic()
        try:
            while True:
                broken = self._submit(pool, inflight, again, fresh, window)
                if not inflight and not broken:
                    break
                if inflight:
                    done, _ = wait(inflight, timeout=BEAT_S, return_when=FIRST_COMPLETED)
                    broken |= self._collect(done, inflight, again, results)
                    if time.monotonic() - checked >= BEAT_S:
                        self._kill_stalled(pool)
                        checked = time.monotonic()
                if broken:
                    # the manager thread fails every other pending future of a broken pool at once
                    done, _ = wait(inflight)
                    self._collect(done, inflight, again, results)
                    _close(pool, kill=False, patience_s=self.stall_s)
                    self.rebuilds += 1
                    self._barren += 1
                    if self.rebuilds > self.restarts or self._barren >= self.BARREN_LIMIT:
                        self._give_up(again, fresh, results)
                        break
                    pool = self._pool(workers)
            clean = True
        finally:
            try:
                _close(pool, kill=not clean, patience_s=self.stall_s)
            finally:
                if self._ctx.get_start_method() == "forkserver":
                    stop_forkserver()
        missing = [i for i, o in enumerate(results) if o is None]
        if missing:
            raise RuntimeError(f"the pool returned no outcome for {len(missing)} items (first: {missing[0]})")
        return results  # type: ignore[return-value]

    def _submit(
        self,
        pool: ProcessPoolExecutor,
        inflight: dict[Future, tuple[Chunk, int]],
        again: deque[tuple[Chunk, int]],
        fresh: Iterator[Chunk],
        window: int,
    ) -> bool:
        """Fill the window, resubmitted chunks first; True when the pool turned out to be broken."""
        from concurrent.futures.process import BrokenProcessPool

        while len(inflight) < window:
            if again:
                pairs, generation = again.popleft()
            elif any(generation > 0 for _, generation in inflight.values()):
                return False  # recovering: fresh chunks wait for the resubmitted ones
            else:
                upcoming = next(fresh, None)
                if upcoming is None:
                    return False
                pairs = upcoming
                generation = 0
            try:
                # submit may start a worker; a Ctrl-C between its fork and the pool's record of it would leave a
                # worker no one stops, and the fork server (so this map) waiting for it to end
                with orchbench.defer_interrupts():
                    future = pool.submit(orchbench.timed_chunk, self.fn, pairs, generation, *self.args)
                self._sent[future] = time.monotonic()
            except BrokenProcessPool:
                again.appendleft((pairs, generation))
                return True
            inflight[future] = (pairs, generation)
        return False

    def _collect(
        self,
        done: Iterable[Future],
        inflight: dict[Future, tuple[Chunk, int]],
        again: deque[tuple[Chunk, int]],
        results: list[Outcome | None],
    ) -> bool:
        """Store finished chunks' outcomes; queue lost chunks again. True when a chunk was lost to a crash."""
        from concurrent.futures.process import BrokenProcessPool

        lost = False
        for future in done:
            pairs, generation = inflight.pop(future)
            sent = self._sent.pop(future, 0.0)
            exc = future.exception()
            if isinstance(exc, BrokenProcessPool):
                again.append((pairs, generation + 1))
                lost = True
                continue
            if exc is not None:
                raise exc  # not an item's failure (a Task never raises for those): the strategy's or worker's bug
            outcomes = orchbench.received_chunk(future.result(), sent)
            if len(outcomes) != len(pairs):
                raise RuntimeError(f"a worker returned {len(outcomes)} outcomes for a chunk of {len(pairs)} items")
            for outcome in outcomes:
                results[outcome.index] = outcome
            if self.on_chunk is not None:
                self.on_chunk(outcomes)
            self._barren = 0
        return lost

    def _give_up(self, again: deque[tuple[Chunk, int]], fresh: Iterator[Chunk], results: list[Outcome | None]) -> None:
        if self._barren >= self.BARREN_LIMIT:
            why = (
                f"the worker pool broke {self._barren} times in a row without returning any batch "
                "(a worker process dies on start or on one of these items)"
            )
        else:
            why = (
                f"the worker pool broke {self.rebuilds} times (a worker process died each time), "
                f"more than restarts={self.restarts} allows"
            )
        for pairs, _generation in [*again, *((c, 0) for c in fresh)]:
            for index, _item in pairs:
                results[index] = Outcome(index, error=f"not run: {why}")


def add_worker_counts(task: Task, supervisor: Supervisor) -> None:
    """Add the worker resources the pool's processes opened and closed to the run's count."""
    opened, closed, errors = supervisor.worker_counts()
    task.workers.add(opened, closed)
    if errors:
        task.workers.add(errors=[f"{errors} worker teardown(s) raised in worker processes (see the run's log)"])


class PooledStrategy(Strategy):
    """A strategy whose map runs on a :class:`Supervisor`: its ``restarts`` option, what it counts of the pool's
    breakdowns in the last map, and the stats it reports of them (nothing when the pool never broke)."""

    RESTARTS = Option(
        int, DEFAULT_RESTARTS, "pool rebuilds after worker crashes before the items left fail", min=0, max=100_000
    )

    rebuilds = 0  # pool rebuilds after worker crashes in the last map
    stalls = 0  # of which workers killed for making no progress

    def supervise(self, task: Task, supervisor: Supervisor, items: Sequence[Any], chunk: int) -> list[Outcome]:
        """The supervisor's map of ``items``; its breakdowns and its workers' resources counted, however it ends."""
        try:
            return supervisor.map(items, chunk)
        finally:
            self.rebuilds, self.stalls = supervisor.rebuilds, supervisor.stalls
            add_worker_counts(task, supervisor)

    def stats(self) -> dict[str, Any]:
        return {"pool rebuilds": self.rebuilds, "stalled workers killed": self.stalls} if self.rebuilds else {}


def adaptive_chunk(n: int, workers: int, per_worker: int, low: int, high: int) -> int:
    """About ``per_worker`` chunks per worker, clamped to [low, high], evened out (:func:`even_chunk`)."""
    return even_chunk(n, max(low, min(high, math.ceil(n / (workers * per_worker)))), workers)


def even_chunk(n: int, chunk: int, workers: int) -> int:
    """A size no larger than ``chunk`` that cuts ``n`` items into a multiple of ``workers`` chunks of (nearly) one
    size: chunks of ``chunk`` would leave a remainder that some workers get and others do not."""
    if n <= 0 or chunk <= 0:
        return max(1, chunk)
    count = math.ceil(n / chunk)
    count = math.ceil(count / workers) * workers
    return max(1, math.ceil(n / count))
