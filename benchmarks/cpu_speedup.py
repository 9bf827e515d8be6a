"""Target 3: the CPU-bound anagram variant (case ``10k``, scenario ``cpu``: no sleep, 20 ms of CPU per task).

``processes`` or ``hybrid`` ≥ 1.8 × faster than ``sequential`` on 2 cores (the ideal is the core count). Medians
over interleaved rounds.

    python benchmarks/cpu_speedup.py              # 3 rounds × 3 strategies: about 5 minutes on 2 cores
    python benchmarks/cpu_speedup.py --quick      # 1 round at 5 ms per task: about 30 s
"""

from __future__ import annotations

import sys

from _common import machine, median, parser, progress, run, table, verdict

SPEEDUP = 1.8


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--iterations", "-n", type=int, default=3)
    p.add_argument("--cpu-ms", type=float, default=None, help="CPU work per task (default: the scenario's 20 ms)")
    args = p.parse_args()
    rounds = 1 if args.quick else args.iterations
    extra = ["--cpu-ms", str(args.cpu_ms if args.cpu_ms is not None else 5.0)] if (args.quick or args.cpu_ms) else []
    strategies = ["sequential", "processes", "hybrid"]
    runs: dict[str, list[dict]] = {s: [] for s in strategies}
    for i in range(rounds):
        for strategy in strategies:
            progress(f"round {i + 1} {strategy}")
            runs[strategy].append(run(strategy, "-t", "10k", "--scenario", "cpu", *extra))
    walls = {s: median([r["wall_s"] for r in rs]) for s, rs in runs.items()}
    rows = []
    for s, rs in runs.items():
        rows.append(
            [
                s,
                len(rs),
                walls[s],
                walls["sequential"] / walls[s],
                median([r["cpu_percent"] for r in rs]),
                f"{sum(bool(r['correct']) for r in rs)}/{len(rs)}",
                median([r["peak_rss"] / 1e6 for r in rs]),
            ]
        )
    table(rows, ["strategy", "runs", "median wall s", "speed-up", "CPU %", "correct", "peak MB"])
    best = min(["processes", "hybrid"], key=lambda s: walls[s])
    speedup = walls["sequential"] / walls[best]
    correct = all(r["correct"] for rs in runs.values() for r in rs)
    cores = machine()["cores"]
    ok = speedup >= SPEEDUP and correct
    verdict(
        f"processes or hybrid >= {SPEEDUP} x faster than sequential on 2 cores",
        f"{best}: {speedup:.2f}x faster than sequential ({walls[best]:.2f} s vs {walls['sequential']:.2f} s) "
        f"on {cores} cores",
        ok,
        {"walls": walls, "speedup": speedup, "best": best},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
