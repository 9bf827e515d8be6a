"""Workers and their resources: what holds state while items flow (a thread, a process, an event loop, a Ray actor).

A workload may declare a *worker factory* (:meth:`orchbench.Workload.worker_factory`): a generator that sets a
resource up, yields it, and tears it down when resumed, like a pytest yield fixture; or an async generator, whose
resource is opened on the event loop that will use it. Each :class:`Worker` opens the factory once, when its first
item asks for the resource, and closes it when the worker ends, on success, failure and interrupt alike.

A Worker also owns, for async code under a sync strategy, one event loop for its whole life (``asyncio.Runner``),
so a resource bound to a loop keeps working from item to item; and, for sync code under an event loop, a pool of
worker threads (each a Worker of its own) sized to the loop's in-flight limit.

The current worker is a context variable: a thread sets it for itself, a loop's tasks inherit it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar

from orchbench.errors import AttemptTimeout
from orchbench.runtime import deadline


class Workload(Protocol):
    """What a worker uses of the workload it serves (:class:`orchbench.Workload` has it; the contract calls this
    module, so this module does not import the contract)."""

    def worker_factory(self) -> Any: ...


T = TypeVar("T")
MAX_ERRORS_KEPT = 5
THREAD_STOP_S = 30.0  # how long closing a thread pool waits for a thread's current call and teardown


class WorkerFactoryError(Exception):
    """A worker factory failed to open (raised, or did not yield): no item of that worker can run."""


class WorkerCounts:
    """How many worker resources were opened and closed, and the first teardown errors; thread-safe."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0
        self.errors: list[str] = []
        self.on_change: Callable[[int, int, int], None] | None = None  # e.g. a pool worker telling the parent
        self._lock = threading.Lock()

    def add(self, opened: int = 0, closed: int = 0, errors: list[str] | tuple[str, ...] = ()) -> None:
        with self._lock:
            self.opened += opened
            self.closed += closed
            self.errors.extend(errors[: max(0, MAX_ERRORS_KEPT - len(self.errors))])
        if self.on_change is not None:
            self.on_change(opened, closed, len(errors))
        if errors and self.on_change is not None:  # the parent gets the count; the words go to the run's log
            import sys

            print(f"orchbench: {errors[0]}", file=sys.stderr)

    def to_dict(self) -> dict[str, Any]:
        return {"opened": self.opened, "closed": self.closed, "errors": list(self.errors)}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class Worker:
    """One worker of a run: the workload's resource for it (opened on first use), its own event loop when sync code
    runs coroutines, and its pool of threads when async code runs sync calls."""

    def __init__(self, workload: Workload, counts: WorkerCounts, threads: int = 0) -> None:
        self.workload = workload
        self.counts = counts
        self.threads = threads  # size of the pool for sync calls from this worker's loop (0: not offered)
        self._runner: asyncio.Runner | None = None
        self._gen: Any = None
        self._opened = False
        self._opening: asyncio.Future[Any] | None = None
        self._resource: Any = None
        self._error: str | None = None
        self._pool: WorkerThreads | None = None

    # --- the resource ------------------------------------------------------------------------------------

    def _start(self) -> Any:
        gen = self.workload.worker_factory()
        if gen is not None and not (inspect.isgenerator(gen) or inspect.isasyncgen(gen)):
            raise TypeError(f"a worker factory must be a generator (yield the resource), not {type(gen).__name__}")
        return gen

    def _fail(self, exc: BaseException) -> WorkerFactoryError:
        if isinstance(exc, StopIteration | StopAsyncIteration):
            self._error = "the worker factory ended without yielding a resource"
        else:
            self._error = f"the worker factory raised {_describe(exc)}"
        return WorkerFactoryError(self._error)

    def resource(self) -> Any:
        """This worker's resource, opened now if it is not yet (from sync code: an async factory runs on the
        worker's own loop). Raises :class:`WorkerFactoryError` when the factory failed."""
        if self._error is not None:
            raise WorkerFactoryError(self._error)
        if self._opened:
            return self._resource
        self._opened = True
        try:
            gen = self._start()
            if inspect.isasyncgen(gen):
                value = self.run(gen.__anext__(), timed=False)
            else:
                value = next(gen) if gen is not None else None
        except Exception as exc:
            raise self._fail(exc) from exc
        self._set(gen, value)
        return value

    async def aresource(self) -> Any:
        """This worker's resource, opened now on the running loop if it is not yet."""
        if self._error is not None:
            raise WorkerFactoryError(self._error)
        if self._opened:
            return self._resource
        if self._opening is None:  # the first of the loop's tasks to ask opens it; the others wait for it
            self._opening = asyncio.ensure_future(self._aopen())
        return await asyncio.shield(self._opening)

    async def _aopen(self) -> Any:
        try:
            gen = self._start()
            if inspect.isasyncgen(gen):
                value = await gen.__anext__()
            else:
                value = next(gen) if gen is not None else None
        except Exception as exc:
            raise self._fail(exc) from exc
        self._set(gen, value)
        return value

    def _set(self, gen: Any, value: Any) -> None:
        self._opened, self._gen, self._resource = True, gen, value
        if gen is not None:
            self.counts.add(opened=1)

    def _teardown_done(self, gen: Any) -> None:
        self._gen = self._resource = None
        self.counts.add(closed=1)

    def close(self) -> None:
        """Tear the resource down (from sync code), then close this worker's loop and thread pool."""
        try:
            if self._pool is not None:
                self._pool.close()
            gen = self._gen
            if gen is not None:
                try:
                    if inspect.isasyncgen(gen):
                        self.run(_finish_async(gen), timed=False)
                    else:
                        _finish(gen)
                except Exception as exc:
                    self.counts.add(errors=[f"a worker's teardown raised {_describe(exc)}"])
                self._teardown_done(gen)
        finally:
            if self._runner is not None:
                self._runner.close()
                self._runner = None

    async def aclose(self) -> None:
        """Tear the resource down on the running loop, then close this worker's thread pool."""
        if self._opening is not None and not self._opening.done():
            await asyncio.wait([self._opening])
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.close)
        gen = self._gen
        if gen is None:
            return
        try:
            if inspect.isasyncgen(gen):
                await _finish_async(gen)
            else:
                _finish(gen)
        except Exception as exc:
            self.counts.add(errors=[f"a worker's teardown raised {_describe(exc)}"])
        self._teardown_done(gen)

    @contextmanager
    def as_current(self) -> Iterator[Worker]:
        """Make this the running code's worker for the block (e.g. an actor's call, which runs in a context of its
        own)."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    # --- async code from sync code, sync code from async code ---------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timed: bool = True) -> T:
        """Run ``coro`` to its end on this worker's own loop (created on first use, kept until :meth:`close`),
        in the caller's context; with ``timed``, cut at the current attempt's deadline."""
        if self._runner is None:
            from orchbench.runtime.loop import loop_factory

            self._runner = asyncio.Runner(loop_factory=loop_factory())
        left = deadline.remaining() if timed else None
        if left is not None:
            coro = _cut(coro, left)
        return self._runner.run(coro, context=contextvars.copy_context())

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of this worker's threads (each a worker with its own resource), without
        blocking the loop; the threads are at most ``threads``, started as needed."""
        if self._pool is None:
            self._pool = WorkerThreads(self.workload, self.counts, max(1, self.threads))
        left = deadline.remaining()  # the attempt's deadline goes with the call into the thread

        def call() -> T:
            with deadline.attempt_deadline(left):
                return fn(*args)

        return await asyncio.wrap_future(self._pool.submit(call))


async def _cut(coro: Coroutine[Any, Any, T], seconds: float) -> T:
    try:
        return await asyncio.wait_for(coro, max(0.0, seconds))
    except TimeoutError:
        raise AttemptTimeout("attempt timed out") from None


def _finish(gen: Any) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    gen.close()
    raise RuntimeError("the worker factory yielded more than once")


async def _finish_async(gen: Any) -> None:
    try:
        await gen.__anext__()
    except StopAsyncIteration:
        return
    await gen.aclose()
    raise RuntimeError("the worker factory yielded more than once")


_current: contextvars.ContextVar[Worker | None] = contextvars.ContextVar("orchbench_worker", default=None)
_fallback = threading.local()
_fallbacks: list[Worker] = []
_fallbacks_lock = threading.Lock()


def current(workload: Workload) -> Worker:
    """The worker running this code. Under a strategy that declares none (a plugin's own strategy), each thread
    gets one of its own, closed by :func:`close_fallbacks` after the map."""
    worker = _current.get()
    if worker is not None and worker.workload is workload:
        return worker
    worker = getattr(_fallback, "worker", None)
    if worker is None or worker.workload is not workload:
        worker = _fallback.worker = Worker(workload, getattr(workload, "_worker_counts", None) or WorkerCounts())
        with _fallbacks_lock:
            _fallbacks.append(worker)
    return worker


def close_fallbacks(workload: Workload) -> None:
    """Close the workers :func:`current` made for threads of a strategy that declared none (best effort: a
    resource bound to its thread may refuse; that is reported as a teardown error)."""
    with _fallbacks_lock:
        mine = [w for w in _fallbacks if w.workload is workload]
        _fallbacks[:] = [w for w in _fallbacks if w.workload is not workload]
    for worker in mine:
        worker.close()


@contextmanager
def worker_scope(workload: Workload, counts: WorkerCounts, threads: int = 0) -> Iterator[Worker]:
    """This thread is a worker for the block; its resource is closed at the end, however the block ends."""
    worker = Worker(workload, counts, threads)
    token = _current.set(worker)
    try:
        yield worker
    finally:
        try:
            worker.close()
        finally:
            _current.reset(token)


@asynccontextmanager
async def async_worker_scope(workload: Workload, counts: WorkerCounts, threads: int = 0) -> AsyncIterator[Worker]:
    """The running loop is a worker for the block (its tasks created inside inherit it)."""
    worker = Worker(workload, counts, threads)
    token = _current.set(worker)
    try:
        yield worker
    finally:
        try:
            await worker.aclose()
        finally:
            _current.reset(token)


class WorkerThreads:
    """Up to ``size`` threads, each a worker with its own resource, running submitted calls; started as calls come
    while none is idle. :meth:`close` lets each finish its current call, closes its resource in its own thread
    and joins it."""

    def __init__(self, workload: Workload, counts: WorkerCounts, size: int) -> None:
        self.workload, self.counts, self.size = workload, counts, size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker threads are closed")
            if self._idle == 0 and len(self._threads) < self.size:
                thread = threading.Thread(target=self._serve, name=f"orchbench-worker-{len(self._threads)}")
                thread.daemon = True  # a call stuck past close()'s bound must not hold the interpreter's exit
                self._threads.append(thread)
                self._idle += 1
                thread.start()
            self._idle -= 1
            self._jobs.put((future, fn, args))
        return future

    def _serve(self) -> None:
        with worker_scope(self.workload, self.counts):
            while (job := self._jobs.get()) is not None:
                future, fn, args = job
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args))
                    except BaseException as exc:  # the caller's to handle, in the caller
                        future.set_exception(exc)
                with self._lock:
                    self._idle += 1

    def close(self, cancel: bool = False) -> None:
        """Stop the threads once the calls queued before are done (``cancel``: drop those not started)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(THREAD_STOP_S)
