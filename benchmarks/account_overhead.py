"""The time account's own cost: the same runs with the account on and off (``ORCHBENCH_ACCOUNT=off``), in
interleaved pairs on the same seeds, for the pipelines where a per-item cost shows most: many tiny items in one
process (sequential, threads), many short awaits on one loop (asyncio), and chunks crossing processes (processes).

Wall: the run's reported wall (its measured window), on ÷ off within each pair, the median over the pairs; ≤ 1.02 ×.
Memory: the run's reported peak RSS (the kernel's high-water marks), median on − median off; ≤ 15 MB. The load
average is printed at the start and the end: on a shared machine, measure when it is low.

On a loaded machine a few pairs cannot resolve 2 %, so the hooks' own cost is also measured in-process on the
thread's CPU clock (which a busy machine does not stretch): CPU per sync item and per async item of three steps, on
and off; with each pipeline's items (and attempts) it gives the implied ratio (1 + cost × items ÷ wall off).

    python benchmarks/account_overhead.py            # 6 pairs per pipeline: several minutes
    python benchmarks/account_overhead.py --quick    # 3 pairs per pipeline
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from _common import median, parser, progress, run, table, verdict

from orchbench.harness import timeaccount

HOOK_ITEMS = 20000

WALL_RATIO = 1.02
MEMORY_MB = 15.0
PIPELINES = {
    "sequential, anagrams 10k, no latency (10,000 tiny items)": ("sequential", "-t", "10k", "--scenario", "none"),
    "threads, anagrams 10k, no latency": ("threads", "-t", "10k", "--scenario", "none"),
    "asyncio, anagrams large, fast latencies (awaits)": ("asyncio", "-t", "large", "--scenario", "fast"),
    "processes, anagrams 10k, no latency (chunks)": ("processes", "-t", "10k", "--scenario", "none"),
    "threads, calibrate 24 x 40 ms CPU (the GIL sampler)": (
        "threads",
        "-w",
        "calibrate",
        *("--set", "items=24", "--set", "cpu_s=0.04"),
    ),
}


def _sync_items(enabled: bool) -> float:
    """CPU seconds per sync item of the hooks (an item and its one attempt), with the account on or off."""
    timeaccount.ENABLED = enabled
    started = time.thread_time()
    for _ in range(HOOK_ITEMS):
        token = timeaccount.item_begin()
        worker, attempt = timeaccount.current(), time.perf_counter()
        if worker is not None:
            worker.attempt_wall += time.perf_counter() - attempt
        timeaccount.item_end(token, 1, True)
    return (time.thread_time() - started) / HOOK_ITEMS


async def _three_steps() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _async_items(enabled: bool) -> float:
    """CPU seconds per async item of three steps, hooks included, with the account on or off."""
    timeaccount.ENABLED = enabled
    n = HOOK_ITEMS // 4
    started = time.thread_time()
    for _ in range(n):
        token = timeaccount.item_begin("async")
        await timeaccount.stepped(_three_steps(), timeaccount.current())
        timeaccount.item_end(token, 1, True)
    return (time.thread_time() - started) / n


def hook_costs(rounds: int = 5) -> tuple[float, float]:
    """The account's added CPU per sync item and per async item of three steps (medians over ``rounds``)."""
    sync, asynchronous = [], []
    for _ in range(rounds):
        sync.append(_sync_items(True) - _sync_items(False))
        asynchronous.append(asyncio.run(_async_items(True)) - asyncio.run(_async_items(False)))
    timeaccount.RECORDER.drain()
    return median(sync), median(asynchronous)


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=6)
    args = p.parse_args()
    pairs = 3 if args.quick else args.pairs
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sync_cost, async_cost = hook_costs()
    print(f"hooks' CPU per item: sync +{sync_cost * 1e6:.2f} us, async (3 steps) +{async_cost * 1e6:.2f} us")
    rows, worst_ratio, worst_mb, worst_implied, details = [], 0.0, float("-inf"), 0.0, {}
    for label, (strategy, *rest) in PIPELINES.items():
        on, off = [], []
        for seed in range(pairs):
            progress(f"{label}: pair {seed + 1}/{pairs}")
            first, second = (on, off) if seed % 2 == 0 else (off, on)  # alternate which goes first
            for results in (first, second):
                switch = {} if results is on else {"ORCHBENCH_ACCOUNT": "off"}
                results.append(run(strategy, *rest, "--seed", str(seed), extra_env=switch))
        wall_on, wall_off = median([r["wall_s"] for r in on]), median([r["wall_s"] for r in off])
        mb_on, mb_off = median([r["peak_rss"] / 1e6 for r in on]), median([r["peak_rss"] / 1e6 for r in off])
        ratio = median([a["wall_s"] / b["wall_s"] for a, b in zip(on, off, strict=True)])  # within each pair
        extra = mb_on - mb_off
        cost = async_cost if strategy == "asyncio" else sync_cost
        # one process runs every item in turn here (its CPU is the wall), but for processes: its workers share it
        share = 1.0 / 2 if strategy == "processes" else 1.0
        implied = 1 + share * cost * median([r["attempts"] for r in on]) / wall_off
        worst_ratio, worst_mb, worst_implied = (
            max(worst_ratio, ratio),
            max(worst_mb, extra),
            max(worst_implied, implied),
        )
        rows.append([label, wall_off, wall_on, ratio, implied, mb_off, mb_on])
        details[label] = {
            "wall_off_s": wall_off,
            "wall_on_s": wall_on,
            "ratio": ratio,
            "implied_ratio": implied,
            "memory_mb": extra,
        }
    table(rows, ["pipeline", "wall off s", "wall on s", "on/off", "implied", "RSS off MB", "RSS on MB"])
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = worst_implied <= WALL_RATIO and worst_mb <= MEMORY_MB
    verdict(
        f"the time account costs <= {WALL_RATIO} x wall and <= {MEMORY_MB:g} MB",
        f"implied by the hooks' CPU: worst {worst_implied:.3f} x; pairs: worst {worst_ratio:.3f} x (medians of "
        f"{pairs} pairs, as noisy as the machine); worst memory {worst_mb:+.1f} MB",
        ok,
        {**details, "sync_item_cost_s": sync_cost, "async_item_cost_s": async_cost},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
