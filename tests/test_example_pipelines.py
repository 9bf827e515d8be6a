"""The four example pipelines (examples/), each run under every built-in strategy: every output checked against
its reference, every worker resource opened closed, and the capacity never exceeded as the test counts it (and,
for the API, as the server itself saw it)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from orchbench.testing import run_spec
from tests import peak

PLUGIN = str(Path(__file__).with_name("counted_examples.py"))
# Every strategy runs with -m slow; the default suite keeps threads (a resource per thread, the capacity shared).
STRATEGIES = [
    pytest.param(name, marks=() if name == "threads" else pytest.mark.slow)
    for name in ("sequential", "threads", "asyncio", "processes", "hybrid")
]
CAPACITY = {"orders": 4, "api": 8, "files": 4, "collatz": 4}


def _run(strategy: str, workload: str, **fields):
    return run_spec(strategy, workload=f"{workload}-counted", plugins=[PLUGIN], **fields)


def _check(result, workload: str, count: Path) -> None:
    assert result.complete and result.correct, (result.error, result.failures[:3])
    assert result.succeeded == result.items > 0
    resources = result.worker_resources
    assert resources is not None and resources["opened"] == resources["closed"] >= 1 and not resources["errors"]
    now, most, calls = peak.read(str(count))
    assert now == 0 and calls >= result.unique_items
    assert 1 <= most <= CAPACITY[workload]


@pytest.fixture
def count(tmp_path, monkeypatch):
    path = tmp_path / "peak"
    monkeypatch.setenv(peak.PEAK_ENV, str(path))
    return path


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("workload", ["orders", "files", "collatz"])
def test_example_pipeline(workload, strategy, count):
    result = _run(strategy, workload, case="small")
    _check(result, workload, count)
    if strategy == "sequential":
        assert result.worker_resources["opened"] == 1


@pytest.fixture(scope="module")
def api():
    """The example's own API (aiohttp), served on a free loopback port from a thread of this process."""
    from aiohttp import web

    from tests.counted_examples import MODULES

    example = MODULES["api_pipeline"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(example.make_app())

    async def start():
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(30), "the example API did not start"
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)


def _stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as answer:
        return json.load(answer)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_example_api_pipeline(strategy, api, count, monkeypatch):
    monkeypatch.setenv("ORDERS_API", api)
    before = _stats(api)
    result = _run(strategy, "api", case="small")
    _check(result, "api", count)
    after = _stats(api)
    assert after["served"] - before["served"] == result.items  # every item asked once: none refused, none twice
    assert after["refused"] == before["refused"]  # the capacity kept the API under its limit
    assert after["peak"] <= 8
