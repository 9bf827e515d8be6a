"""Adaptive concurrency (AIMD) against fixed limits, on a scoring server whose capacity the client is not told.

Runs ``orchbench sweep`` over fixed ``concurrency`` values and ``orchbench compare`` with ``adaptive=true``
(asyncio strategy, scoring workload, the embedded server's default scenario with its ``capacity`` set), then
prints one table: median wall time, attempts, 429 answers, correctness, and the adaptive limit's trajectory.

Expectation: the adaptive run is correct and within ``--tolerance`` of the best fixed limit (which a user would
only find by sweeping), and faster than the default fixed limit (256, far above the capacity), which drowns the
server in 429s.

    python benchmarks/adaptive_vs_fixed.py [--capacity 32] [--case 1k] [--iterations 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import orchbench, verdict

FIXED = (4, 8, 16, 32, 64, 128, 256)


def runs_in(directory: Path) -> list[dict[str, Any]]:
    """Every measured run in the comparison documents of a directory, with the sweep value it was taken at."""
    runs = []
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        value = document.get("settings", {}).get("value")
        for run in document["runs"]:
            if not run.get("warmup"):
                runs.append({**run, "sweep_value": value})
    return runs


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    median = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    limiters = [r["strategy_stats"]["limiter"] for r in runs if r.get("strategy_stats", {}).get("limiter")]
    return {
        "wall": median("wall_s"),
        "attempts": median("attempts"),
        "refused": statistics.median(r["workload_stats"].get("refused", 0) for r in runs),
        "ok": all(r["correct"] and r["complete"] for r in runs),
        "limiter": limiters[len(limiters) // 2] if limiters else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=int, default=32, help="the server's capacity, hidden from the client")
    parser.add_argument("--case", default="1k", help="scoring test case (small, 1k, seed, 100k)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.25, help="allowed slowdown vs the best fixed limit")
    args = parser.parse_args()

    common = [
        "--workload",
        "scoring",
        "--test-case",
        args.case,
        "--scenario",
        "default",
        "--set",
        f"capacity={args.capacity}",
        "--iterations",
        str(args.iterations),
        "--warmup",
        "0",
        "--quiet",
    ]
    with tempfile.TemporaryDirectory(prefix="orchbench-adaptive-") as tmp:
        fixed_dir, auto_dir = Path(tmp, "fixed"), Path(tmp, "auto")
        orchbench(
            "sweep",
            "--over",
            "concurrency=" + ",".join(map(str, FIXED)),
            "--strategies",
            "asyncio",
            "--results-dir",
            str(fixed_dir),
            *common,
        )
        orchbench(
            "compare",
            "--strategies",
            "asyncio",
            "--set",
            "adaptive=true",
            "--set",
            "concurrency=256",
            "--output",
            str(auto_dir / "auto.json"),
            "--results-dir",
            str(auto_dir),
            *common,
        )
        fixed_runs, auto_runs = runs_in(fixed_dir), runs_in(auto_dir)

    rows = {f"fixed {v}": summarise([r for r in fixed_runs if str(r["sweep_value"]) == str(v)]) for v in FIXED}
    rows["adaptive (ceiling 256)"] = auto = summarise(auto_runs)
    print(
        f"asyncio · scoring {args.case} · server capacity {args.capacity} (not told to the client) · "
        f"median of {args.iterations} runs"
    )
    print(f"{'limit':<24}{'wall s':>9}{'attempts':>10}{'429s':>8}  correct  limit trajectory")
    for name, row in rows.items():
        trajectory = ""
        if row["limiter"]:
            lim = row["limiter"]
            trajectory = (
                f"start {lim['start']} → final {lim['final']}, max {lim['max']}, {lim['decreases']} cuts "
                f"({lim['overloads']} 429/503 answers)"
            )
        print(
            f"{name:<24}{row['wall']:>9.3f}{row['attempts']:>10.0f}{row['refused']:>8.0f}  "
            f"{'yes' if row['ok'] else 'NO':<7}  {trajectory}"
        )

    best_name, best = min(
        ((n, r) for n, r in rows.items() if n.startswith("fixed") and r["ok"]), key=lambda nr: nr[1]["wall"]
    )
    default = rows["fixed 256"]
    target = best["wall"] * (1 + args.tolerance)
    passed = auto["ok"] and auto["wall"] <= target and auto["wall"] < default["wall"]
    print()
    verdict(
        f"adaptive correct, wall <= {1 + args.tolerance:.2f} x best fixed ({best_name}: {best['wall']:.3f} s) = "
        f"{target:.3f} s, and faster than fixed 256 ({default['wall']:.3f} s)",
        f"adaptive {auto['wall']:.3f} s ({auto['wall'] / best['wall']:.2f} x best fixed, "
        f"{auto['wall'] / default['wall']:.2f} x fixed 256), correct: {auto['ok']}",
        passed,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
