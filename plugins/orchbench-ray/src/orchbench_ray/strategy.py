"""The ``ray`` strategy: a pool of actors, each holding the run's Task, fed batches with bounded in-flight work."""

from __future__ import annotations

import math
import os
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orchbench
from orchbench import Option, Outcome, RunSpec, Strategy, UsageError, split_in_flight, usable_cores

CONNECT_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 30.0  # how long the actors may take to close their worker resources at the end
WAITING_CONCURRENCY = 64  # per actor, for items that mostly wait when the workload states no bound
MAX_LOSSES = 5  # a batch lost with its worker this many times fails explicitly instead of being sent again


def _lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors meaning "the worker or node running this call is gone": the batch is sent again."""
    names = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "LocalRayletDiedError")
    return tuple(getattr(ray.exceptions, name) for name in names if hasattr(ray.exceptions, name))


class RayStrategy(Strategy):
    name = "ray"
    description = (
        "a pool of Ray actors (a local Ray by default, or a cluster), each building the task once; "
        "batches of items, bounded in flight; lost workers' batches are sent again"
    )
    options = {
        "address": Option(str, None, "join the Ray cluster at HOST:PORT (also RAY_ADDRESS); default: a local Ray"),
        "dashboard": Option(bool, False, "start Ray's dashboard with the local Ray"),
        "concurrency": Option(
            int,
            None,
            "items of a batch an actor runs at once on its event loop (1: in turn; "
            "default: 1 for CPU work, else the actor's share of what the workload can take at "
            f"once, or {WAITING_CONCURRENCY})",
            min=1,
            tune=(1, 16384),
        ),
        "actors": Option(int, None, "actors in the pool (default: the CPU count)", min=1, tune=(1, 64)),
        "batch": Option(
            int, None, "items per call (default: about four calls per actor, and at least concurrency items)", min=1
        ),
        "inflight": Option(int, None, "batches in flight at once (default: two per actor)", min=1),
    }

    @classmethod
    def budget(cls, n: int, cores: int) -> dict[str, Any]:
        actors, concurrency = split_in_flight(n, cores)
        return {"actors": actors, "concurrency": concurrency}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._ray: Any = None
        self._owns_ray = False
        self._actors: list[Any] = []
        self._task: Any = None  # the task of the last map: the actors' worker resources are counted into it
        self._empty_dir: str | None = None  # the Ray workers' directory on their sys.path (see _init)

    def start(self, spec: RunSpec) -> None:
        """Start (or join) Ray and build the actor pool; every actor has built its Task when this returns."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        self._ray = ray
        if not ray.is_initialized():
            self._init(ray)
        from orchbench_ray.worker import AsyncBatchWorker, BatchWorker

        task = orchbench.build_task(spec)  # not task_for: this is the driver, not a worker (no worker hook)
        n = self.options["actors"] or task.bounded(usable_cores())
        concurrency = self.options["concurrency"] or _default_concurrency(task, n)
        _check_capacity(task.capacity, n, concurrency)
        self.resolved.update(actors=n, concurrency=concurrency)
        spec = task.declare_in_flight(concurrency)  # what each actor runs at once, for the workload's resources
        cluster_cpus = float(ray.cluster_resources().get("CPU", n))
        actor_class = ray.remote(AsyncBatchWorker if concurrency > 1 else BatchWorker)
        # Restarted after a crash (the constructor rebuilds the Task); a lost call is ours to resubmit, with
        # generation + 1, so Ray never retries it itself.
        handle = actor_class.options(
            num_cpus=min(1.0, cluster_cpus / n), max_restarts=-1, max_task_retries=0, max_concurrency=1
        )
        self._actors = [handle.remote(spec.to_dict(), concurrency, os.getcwd()) for _ in range(n)]
        try:
            ray.get([actor.ready.remote() for actor in self._actors])
        except ray.exceptions.RayError as exc:
            raise UsageError(
                f"ray: the actors could not build the task ({_first_line(exc)}); is orchbench "
                "installed where the Ray workers run?"
            ) from None

    def _init(self, ray: Any) -> None:
        import logging  # here, as ray itself: listing the strategies imports none of it

        address = self.options["address"] or os.environ.get("RAY_ADDRESS") or None
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        if address:
            _check_reachable(address)
        failure: Exception | None = None
        # Ray puts the driver's working directory first on its workers' sys.path: a file there named like a module
        # the actors import (tenacity.py) would run in them. They get an empty directory of this run instead, and
        # the actors go back to the working directory (see worker.py) without it on their path.
        self._empty_dir = tempfile.mkdtemp(prefix="orchbench-ray-")
        with _stderr_held() as held, _working_dir(self._empty_dir):
            try:
                if address:
                    ray.init(address=address, **quiet)
                else:  # "local": a new Ray of our own, even when another one runs on this machine
                    ray.init(
                        address="local", num_cpus=usable_cores(), include_dashboard=self.options["dashboard"], **quiet
                    )
            except (ConnectionError, ValueError, RuntimeError) as exc:
                failure = exc
        said = "".join(held)
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        if failure is not None and "InvalidAuthToken" in said:
            if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
                raise UsageError(f"ray: {where} refused this process's token: {TOKEN_HELP}") from None
            raise UsageError(
                f"ray: {where} requires token authentication: set RAY_AUTH_MODE to token, and {TOKEN_HELP}"
            )
        sys.stderr.write(said)  # anything else Ray said, as it said it
        if failure is not None:
            raise UsageError(f"ray: cannot start or join {where}: {_first_line(failure)}") from None
        self._owns_ray = True

    def map(self, task: Any, items: Sequence[Any]) -> list[Outcome]:
        if not self._actors:
            self.start(task.spec)
        self._task = task
        concurrency = self.resolved["concurrency"]
        feeder = _Feeder(self._ray, self._actors, self.options, concurrency)
        size = feeder.batch_size(len(items))
        self.resolved.update(batch=size, inflight=feeder.limit)
        busy = min(feeder.limit, len(self._actors), math.ceil(len(items) / size))  # an actor runs one batch at a time
        self.in_flight = min(len(items), busy * min(concurrency, size))
        return feeder.run(list(enumerate(items)))

    def stop(self) -> None:
        """Kill the pool; shut Ray down when this run started (or joined) it."""
        ray, self._ray = self._ray, None
        if ray is None:
            return
        actors, self._actors = self._actors, []
        self._close_workers(ray, actors)
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # already dead, or Ray already gone: nothing left to release
                pass
        if self._owns_ray:
            self._owns_ray = False
            ray.shutdown()
        if self._empty_dir is not None:
            shutil.rmtree(self._empty_dir, ignore_errors=True)
            self._empty_dir = None

    def _close_workers(self, ray: Any, actors: list[Any]) -> None:
        """Have every actor close its worker resource, and count what they opened and closed into the run's."""
        task, self._task = self._task, None
        if not actors:
            return
        try:
            counts = ray.get([actor.close.remote() for actor in actors], timeout=CLOSE_TIMEOUT_S)
        except Exception as exc:  # an actor gone or stuck: its resource is not closed, and the count says so
            counts = []
            print(f"orchbench-ray: the actors could not close their workers ({_first_line(exc)})", file=sys.stderr)
        if task is not None:
            for c in counts:
                task.workers.add(c["opened"], c["closed"], c["errors"])


class _Feeder:
    """Sends batches to the least-loaded live actor, never more than ``inflight`` at once, and collects outcomes.

    An actor whose call was lost is set aside until a readiness probe (which Ray retries until the restarted
    actor answers) comes back; its lost batch goes to the queue again with ``generation + 1``.
    """

    def __init__(self, ray: Any, actors: list[Any], options: dict[str, Any], concurrency: int = 1) -> None:
        self.ray = ray
        self.actors = actors
        self.options = options
        self.concurrency = concurrency
        self.limit = options["inflight"] or 2 * len(actors)
        self.lost = _lost_errors(ray)

    def batch_size(self, n: int) -> int:
        """Items per call: about four calls per actor, but enough to fill an actor's event loop."""
        return self.options["batch"] or max(1, self.concurrency, math.ceil(n / (4 * len(self.actors))))

    def run(self, pairs: list[tuple[int, Any]]) -> list[Outcome]:
        ray, actors = self.ray, self.actors
        size = self.batch_size(len(pairs))
        batches = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        limit = self.limit
        todo: deque[tuple[int, int]] = deque((b, 0) for b in range(len(batches)))  # (batch, generation)
        losses = [0] * len(batches)
        load = [0] * len(actors)
        live = set(range(len(actors)))
        pending: dict[Any, tuple[int, int, int, float]] = {}  # call → (batch, generation, actor, when sent)
        probes: dict[Any, int] = {}  # readiness probe → actor
        outcomes: list[Outcome | None] = [None] * len(pairs)
        while todo or pending:
            while todo and live and len(pending) < limit:
                b, generation = todo.popleft()
                a = min(live, key=load.__getitem__)
                sent = time.monotonic()
                pending[actors[a].run_batch.remote(batches[b], generation)] = (b, generation, a, sent)
                load[a] += 1
            if not pending and not probes:  # every actor is gone for good
                for b, _ in todo:
                    _place(
                        outcomes, [Outcome(i, error="no Ray actor left to run it") for i, _ in batches[b]], batches[b]
                    )
                break
            [done], _ = ray.wait([*pending, *probes], num_returns=1)
            if done in probes:
                a = probes.pop(done)
                try:
                    ray.get(done)
                    live.add(a)
                except self.lost:
                    pass  # the actor cannot come back (e.g. its node is gone): it leaves the pool
                continue
            b, generation, a, sent = pending.pop(done)
            load[a] -= 1
            try:
                returned = orchbench.received_chunk(ray.get(done), sent)  # its record goes to the time account
            except self.lost as exc:
                if a in live:
                    live.discard(a)
                    probes[actors[a].ready.options(max_task_retries=-1).remote()] = a
                losses[b] += 1
                if losses[b] < MAX_LOSSES:
                    print(
                        f"orchbench-ray: batch {b} was lost with its worker ({type(exc).__name__}); "
                        f"sending it again as generation {generation + 1}",
                        file=sys.stderr,
                    )
                    todo.append((b, generation + 1))
                else:
                    error = f"lost with its Ray worker {losses[b]} times: {_first_line(exc)}"
                    _place(outcomes, [Outcome(i, error=error) for i, _ in batches[b]], batches[b])
                continue
            _place(outcomes, returned, batches[b])
        missing = [i for i, o in enumerate(outcomes) if o is None]
        if missing:
            raise RuntimeError(f"ray: no outcome for items {missing[:10]}")
        return outcomes  # type: ignore[return-value]


def _place(outcomes: list[Outcome | None], returned: list[Outcome], batch: list[tuple[int, Any]]) -> None:
    """Put a batch's outcomes in place; an outcome twice, or for an item not in the batch, is a bug."""
    sent = [i for i, _ in batch]
    if [o.index for o in returned] != sent:
        raise RuntimeError(f"ray: a batch of items {sent[:5]}… came back as {[o.index for o in returned][:5]}…")
    for outcome in returned:
        if outcomes[outcome.index] is not None:
            raise RuntimeError(f"ray: item {outcome.index} came back twice")
        outcomes[outcome.index] = outcome


def _default_concurrency(task: orchbench.Task, actors: int) -> int:
    """Items an actor runs at once: 1 when items compute; when they mostly wait (``task.mostly_waits``), the
    actor's share of what the workload can take at once (``Workload.max_in_flight``), else ``WAITING_CONCURRENCY``;
    never more than the actor's share of the workload's capacity."""
    if not task.mostly_waits:
        return 1
    bound = task.useful_in_flight(actors * WAITING_CONCURRENCY)
    return max(1, bound // actors)


def _check_capacity(capacity: int | None, actors: int, concurrency: int) -> None:
    """Ray's actors share no semaphore: the bound holds by their number and concurrency, or the run is refused."""
    if capacity and actors * concurrency > capacity:
        raise UsageError(
            f"ray: {actors} actors x concurrency {concurrency} would put {actors * concurrency} items in flight, "
            f"more than the workload's capacity {capacity}; lower actors or concurrency"
        )


# An HTTP/2 client connection preface and an empty SETTINGS frame: a Ray cluster's address is its GCS, a gRPC
# (HTTP/2) server, which answers them at once with a SETTINGS frame of its own.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_SETTINGS = 0x04


def _check_reachable(address: str) -> None:
    """Fail in seconds, with one line, on a HOST:PORT nobody answers (Ray itself retries for minutes, and forever
    when something accepts the connection and never answers): connect, then ask the GCS for its HTTP/2 settings,
    each within ``CONNECT_TIMEOUT_S``."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in host:
        return  # "auto", "ray://…" and the like: Ray's business
    where = f"the Ray cluster at {address}"
    try:
        conn = socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise UsageError(f"ray: cannot reach {where} ({exc.strerror or exc})") from None
    with conn:
        if os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true"):
            return  # the GCS speaks TLS first: connecting is all we can check here
        try:
            conn.sendall(_H2_PREFACE)
            answer = conn.recv(9)
        except TimeoutError:
            raise UsageError(
                f"ray: {where} accepted the connection but did not answer within "
                f"{CONNECT_TIMEOUT_S:g} s (is it a Ray head's GCS port?)"
            ) from None
        except OSError as exc:
            raise UsageError(f"ray: {where} dropped the connection ({exc.strerror or exc})") from None
    if len(answer) < 4 or answer[3] != _H2_SETTINGS:
        got = "closed the connection" if not answer else "answered something else"
        raise UsageError(f"ray: {where} {got}, not like a Ray head's GCS (gRPC); check the address and port")


TOKEN_HELP = (
    "set RAY_AUTH_MODE=token, and the cluster's token in RAY_AUTH_TOKEN or in a file named by RAY_AUTH_TOKEN_PATH "
    "(default ~/.ray/auth_token)"
)


TOKEN_HELP = (
    "the cluster's token in RAY_AUTH_TOKEN, or in a file named by RAY_AUTH_TOKEN_PATH (default ~/.ray/auth_token)"
)


@contextmanager
def _working_dir(path: str) -> Iterator[None]:
    """This process works in ``path`` while the block runs."""
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


@contextmanager
def _stderr_held() -> Iterator[list[str]]:
    """Everything written to this process's standard error (its file descriptor: Ray's C++ core too) while the
    block runs, kept aside instead; the list yielded holds it once the block is over."""
    said: list[str] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield said
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            said.append(held.read())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
