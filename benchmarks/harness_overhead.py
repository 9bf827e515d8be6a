"""Target 4: the harness's cost. ``orchbench run asyncio`` (anagrams ``large``, scenario ``original``) against
``bare_anagrams.py``, the same pipeline as a plain asyncio script: same work, same latencies, same faults.

Wall: orchbench's reported wall (its measured window: prepare to output) over the bare script's (same window),
medians over interleaved pairs on the same seeds; ≤ 1.05 ×. Memory: both peaks are the kernel's high-water marks:
orchbench's reported peak RSS (its run is one process, so the figure is the run process's ``VmHWM`` over the
window, with everything it held before the window) minus the bare script's ``ru_maxrss`` (its whole life); ≤ 15 MB.
The run's isolation (a fresh child process, ~1-2 s before the window opens) is outside both windows and reported
apart.

    python benchmarks/harness_overhead.py            # 8 pairs: about 1 minute
    python benchmarks/harness_overhead.py --quick    # 3 pairs: about 25 s
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import env, median, parser, progress, run, table, verdict

WALL_RATIO = 1.05
MEMORY_MB = 15.0
BARE = Path(__file__).with_name("bare_anagrams.py")


def bare(seed: int) -> dict:
    """The bare script's figures: its wall over the same span, and its peak RSS (``ru_maxrss``, the kernel's)."""
    done = subprocess.run([sys.executable, str(BARE), "--seed", str(seed)], capture_output=True, text=True, env=env())
    if done.returncode != 0:
        raise RuntimeError(f"bare_anagrams.py exited {done.returncode}")
    return json.loads(done.stdout)


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=8)
    args = p.parse_args()
    pairs = 3 if args.quick else args.pairs
    ob, bs, whole = [], [], []
    for seed in range(pairs):
        progress(f"pair {seed + 1}/{pairs}")
        started = time.perf_counter()
        ob.append(run("asyncio", "-t", "large", "--scenario", "original", "--seed", str(seed)))
        whole.append(time.perf_counter() - started)
        bs.append(bare(seed))
    ob_wall, bs_wall = median([r["wall_s"] for r in ob]), median([r["wall_s"] for r in bs])
    ob_mem, bs_mem = median([r["peak_rss"] / 1e6 for r in ob]), median([r["peak_rss"] / 1e6 for r in bs])
    ratios = [o["wall_s"] / b["wall_s"] for o, b in zip(ob, bs, strict=True)]
    table(
        [
            ["orchbench run asyncio", ob_wall, ob_mem, f"{sum(r['correct'] for r in ob)}/{len(ob)}"],
            ["bare asyncio script", bs_wall, bs_mem, "-"],
        ],
        ["pipeline", "median wall s", "peak RSS MB", "correct"],
    )
    print(f"per-pair wall ratios: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(
        f"whole `orchbench run` command, median: {median(whole):.2f} s "
        f"(isolation and verification outside the window: {median(whole) - ob_wall:.2f} s)"
    )
    ratio, extra_mb = ob_wall / bs_wall, ob_mem - bs_mem
    ok = ratio <= WALL_RATIO and extra_mb <= MEMORY_MB
    verdict(
        f"orchbench wall <= {WALL_RATIO} x a bare script's; peak memory overhead <= {MEMORY_MB:g} MB",
        f"wall {ratio:.3f} x ({ob_wall:.3f} s vs {bs_wall:.3f} s); memory +{extra_mb:.1f} MB "
        f"({ob_mem:.1f} vs {bs_mem:.1f} MB)",
        ok,
        {
            "wall_ratio": ratio,
            "pair_ratios": ratios,
            "memory_overhead_mb": extra_mb,
            "orchbench_wall_s": ob_wall,
            "bare_wall_s": bs_wall,
        },
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
