"""Pipelines of one's own with worker resources, for the tests (loaded with ``plugins=[this file]``).

Every open and close of a resource is written to the file named by ``ORCHBENCH_TEST_LOG`` (one line each: what,
pid, thread), and every call is counted in flight (``tests/peak.py``): the tests' own account, beside the result's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading

import orchbench

_spec = importlib.util.spec_from_file_location(
    "orchbench_test_peak", os.path.join(os.path.dirname(__file__), "peak.py")
)
peak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peak)

LOG_ENV = "ORCHBENCH_TEST_LOG"


def log(what: str) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="ascii") as f:
            f.write(f"{what} {os.getpid()} {threading.get_ident()}\n")


def numbers(n):
    return list(range(int(n)))


def doubled(items):
    return sum(2 * i for i in items)


class Owned:
    """A resource that, like a SQLite connection, works only in the thread that opened it."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.open = True

    def double(self, i: int) -> int:
        if threading.get_ident() != self.thread:
            raise RuntimeError("used from another thread than the one that opened it")
        if not self.open:
            raise RuntimeError("used after it was closed")
        return 2 * i


@orchbench.workload("per-thread", items=numbers, cases={"small": 40}, reduce=sum, reference=doubled, capacity=3)
def per_thread(i, owned):
    with peak.counted():
        return owned.double(i)


@per_thread.worker
def open_owned():
    owned = Owned()
    log("open")
    yield owned
    owned.open = False
    log("close")


class LoopBound:
    """A resource that, like an aiohttp session, works only on the event loop that opened it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def double(self, i: int) -> int:
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("attached to a different loop")
        await asyncio.sleep(0.001)
        return 2 * i


@orchbench.workload("per-loop", items=numbers, cases={"small": 40}, reduce=sum, reference=doubled, capacity=4)
async def per_loop(i, bound):
    with peak.counted():
        return await bound.double(i)


@per_loop.worker
async def open_bound():
    bound = LoopBound()
    log("open")
    yield bound
    await asyncio.sleep(0)  # the teardown runs on the same loop
    if asyncio.get_running_loop() is not bound.loop:
        raise RuntimeError("closed on another loop")
    log("close")


@orchbench.workload("factory-raises", items=numbers, cases={"small": 10}, reduce=sum, reference=doubled)
def factory_raises(i, owned):
    return owned.double(i)


@factory_raises.worker
def open_nothing():
    raise ConnectionRefusedError("no database here")
    yield


@orchbench.workload("teardown-raises", items=numbers, cases={"small": 10}, reduce=sum, reference=doubled)
def teardown_raises(i, owned):
    return owned.double(i)


@teardown_raises.worker
def open_then_fail():
    log("open")
    yield Owned()
    log("close")
    raise OSError("disk gone at teardown")


class Busy(Exception):
    """The user's own transient error."""


@orchbench.workload(
    "flaky", items=numbers, cases={"small": 12}, reduce=sum, reference=doubled, retry_on=(Busy,), capacity=2
)
def flaky(i):
    marker = os.path.join(os.environ[LOG_ENV] + ".d", str(i))
    with peak.counted():
        if not os.path.exists(marker):  # the first attempt of every item fails
            with open(marker, "w"):
                pass
            if i % 3 == 0:
                raise orchbench.TransientError("429", retry_after=0.05)
            if i % 3 == 1:
                raise Busy("try again")
            raise LookupError("not transient: never retried")
        return 2 * i


@orchbench.workload("plain", items=numbers, cases={"small": 30}, reduce=sum, reference=doubled)
def plain(i):
    with peak.counted():
        return 2 * i


@orchbench.workload("slow", items=numbers, cases={"small": 4000}, reduce=sum, reference=doubled, capacity=4)
def slow(i, owned):
    import time

    time.sleep(0.02)  # long enough for a Ctrl-C to land mid-run
    return owned.double(i)


@slow.worker
def open_slow():
    owned = Owned()
    log("open")
    yield owned
    log("close")


@orchbench.hookimpl
def orchbench_workloads():
    return [per_thread, per_loop, factory_raises, teardown_raises, flaky, plain, slow]
