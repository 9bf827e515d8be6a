"""An HTTP API under a rate limit: one aiohttp session per worker, opened on the event loop that uses it.

The API is a small aiohttp server in this file (on loopback), which answers 429 with a Retry-After when more
requests than its limit arrive at once. Start it, then compare:

    python examples/api_pipeline.py --port 8765 &
    ORDERS_API=http://127.0.0.1:8765 orchbench compare -p examples/api_pipeline.py -w api \\
        --strategies sequential threads asyncio processes hybrid
"""

import asyncio
import hashlib
import os

import aiohttp
from aiohttp import web

import orchbench

LIMIT = 8  # requests the API serves at once; more get 429
LATENCY_S = 0.02  # how long it takes to answer one


def score(text):
    """The API's answer for a text (the reference recomputes it)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:2], "big")


def texts(count):
    return [f"item {i}" for i in range(int(count))]


@orchbench.workload(
    "api",
    items=texts,
    cases={"small": 400, "large": 4_000},
    reduce=sum,
    reference=lambda items: sum(map(score, items)),
    capacity=LIMIT,  # what the API takes at once: every strategy keeps at most this many requests in flight
)
async def ask(text, session):
    async with session.post("/score", data=text.encode()) as answer:
        if answer.status == 429:
            raise orchbench.TransientError("429", retry_after=float(answer.headers.get("Retry-After", "1")))
        answer.raise_for_status()
        return (await answer.json())["score"]


@ask.worker
async def open_session():
    """One session (and its connection pool) per worker, closed after the worker's last request."""
    url = os.environ.get("ORDERS_API", "")
    if not url:
        raise RuntimeError("set ORDERS_API to the API's URL (start it with: python examples/api_pipeline.py)")
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, timeout=timeout, connector=aiohttp.TCPConnector(limit=LIMIT)) as session:
        yield session


# --- the API ------------------------------------------------------------------------------------------------


def make_app(limit=LIMIT, latency_s=LATENCY_S):
    """The API: ``POST /score`` answers ``{"score": N}`` after ``latency_s``, or 429 beyond ``limit`` requests at
    once; ``GET /stats`` says how many it served, refused, and the most it ever had in flight."""
    stats = {"served": 0, "refused": 0, "in_flight": 0, "peak": 0}

    async def score_handler(request):
        if stats["in_flight"] >= limit:
            stats["refused"] += 1
            return web.Response(status=429, headers={"Retry-After": "0.05"})
        stats["in_flight"] += 1
        stats["peak"] = max(stats["peak"], stats["in_flight"])
        try:
            text = (await request.content.read(4096)).decode()
            await asyncio.sleep(latency_s)
            stats["served"] += 1
            return web.json_response({"score": score(text)})
        finally:
            stats["in_flight"] -= 1

    async def stats_handler(request):
        return web.json_response(stats)

    app = web.Application(client_max_size=4096)
    app.router.add_post("/score", score_handler)
    app.router.add_get("/stats", stats_handler)
    return app


@orchbench.hookimpl
def orchbench_workloads():
    return [ask]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the example API, on loopback")
    parser.add_argument("--port", type=int, default=8765)
    web.run_app(make_app(), host="127.0.0.1", port=parser.parse_args().port, print=None)
