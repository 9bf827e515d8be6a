"""The time account's own cost: the same runs with the account on and off (``ORCHBENCH_ACCOUNT=off``), in
interleaved pairs on the same seeds, for the pipelines where a per-item cost shows most: many tiny items in one
process (sequential, threads), many short awaits on one loop (asyncio), and chunks crossing processes (processes).

Wall: the run's reported wall (its measured window), median over the pairs, on ÷ off; ≤ 1.02 ×. Memory: the run's
reported peak RSS (the kernel's high-water marks), median on − median off; ≤ 15 MB.

    python benchmarks/account_overhead.py            # 6 pairs per pipeline: several minutes
    python benchmarks/account_overhead.py --quick    # 3 pairs per pipeline
"""

from __future__ import annotations

import sys

from _common import median, parser, progress, run, table, verdict

WALL_RATIO = 1.02
MEMORY_MB = 15.0
PIPELINES = {
    "sequential, anagrams 10k, no latency (10,000 tiny items)": ("sequential", "-t", "10k", "--scenario", "none"),
    "threads, anagrams 10k, no latency": ("threads", "-t", "10k", "--scenario", "none"),
    "asyncio, anagrams large, fast latencies (awaits)": ("asyncio", "-t", "large", "--scenario", "fast"),
    "processes, anagrams 10k, no latency (chunks)": ("processes", "-t", "10k", "--scenario", "none"),
}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=6)
    args = p.parse_args()
    pairs = 3 if args.quick else args.pairs
    rows, worst_ratio, worst_mb, details = [], 0.0, float("-inf"), {}
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
        ratio, extra = wall_on / wall_off, mb_on - mb_off
        worst_ratio, worst_mb = max(worst_ratio, ratio), max(worst_mb, extra)
        rows.append([label, wall_off, wall_on, ratio, mb_off, mb_on])
        details[label] = {"wall_off_s": wall_off, "wall_on_s": wall_on, "ratio": ratio, "memory_mb": extra}
    table(rows, ["pipeline", "wall off s", "wall on s", "on/off", "RSS off MB", "RSS on MB"])
    ok = worst_ratio <= WALL_RATIO and worst_mb <= MEMORY_MB
    verdict(
        f"the time account costs <= {WALL_RATIO} x wall and <= {MEMORY_MB:g} MB",
        f"worst wall {worst_ratio:.3f} x; worst memory {worst_mb:+.1f} MB (medians of {pairs} pairs)",
        ok,
        details,
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
