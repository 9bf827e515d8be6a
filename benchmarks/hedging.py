"""Hedged attempts against plain exponential retries, on a scoring server with slow outliers.

Runs ``orchbench compare`` twice (asyncio strategy, scoring workload, the embedded server with ``slow_rate`` of
its answers taking ``slow_latency`` seconds and no capacity limit), once with ``--retry exponential`` and once
with ``--retry hedged``, and prints median wall time, attempt-latency p99, attempts, hedges (won), and the
requests the server counted — the extra work hedging costs, counted honestly.

Expectation: hedging cuts the wall time at least by ``--speedup`` (the slow outliers set the exponential run's
wall; a hedge answers in a normal latency), for at most ``--extra`` more server requests (about 1 - quantile of
the attempts are hedged).

    python benchmarks/hedging.py [--case 1k] [--iterations 3] [--slow-rate 0.03] [--slow-latency 5]
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


def compare(retry: str, out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    orchbench(
        "compare",
        "--strategies",
        "asyncio",
        "--workload",
        "scoring",
        "--test-case",
        args.case,
        "--scenario",
        "default",
        "--retry",
        retry,
        "--set",
        "capacity=0",
        "--set",
        f"slow_rate={args.slow_rate}",
        "--set",
        f"slow_latency={args.slow_latency}",
        "--set",
        "latency_median=0.02",
        "--set",
        "latency_sigma=0.3",
        "--iterations",
        str(args.iterations),
        "--warmup",
        "0",
        "--quiet",
        "--output",
        str(out),
        "--results-dir",
        str(out.parent),
    )
    document = json.loads(out.read_text(encoding="utf-8"))
    return [run for run in document["runs"] if not run.get("warmup")]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(get: Any) -> float:
        return statistics.median(get(r) for r in runs)

    return {
        "wall": median(lambda r: r["wall_s"]),
        "p99": median(lambda r: r["latency_p99_s"] or 0.0),
        "attempts": median(lambda r: r["attempts"]),
        "hedges": median(lambda r: r.get("hedges", 0)),
        "won": median(lambda r: r.get("hedges_won", 0)),
        "requests": median(lambda r: r["workload_stats"].get("requests", 0)),
        "slow": median(lambda r: r["workload_stats"].get("slow", 0)),
        "ok": all(r["correct"] and r["complete"] for r in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1k", help="scoring test case (small, 1k, seed, 100k)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--slow-rate", type=float, default=0.03, help="share of very slow answers")
    parser.add_argument("--slow-latency", type=float, default=5.0, help="seconds a very slow answer takes")
    parser.add_argument("--speedup", type=float, default=2.0, help="expected wall-time ratio, exponential / hedged")
    parser.add_argument("--extra", type=float, default=0.15, help="allowed share of extra server requests")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="orchbench-hedging-") as tmp:
        rows = {
            retry: summarise(compare(retry, Path(tmp, f"{retry}.json"), args)) for retry in ("exponential", "hedged")
        }

    print(
        f"asyncio · scoring {args.case} · {100 * args.slow_rate:g} % of answers take {args.slow_latency:g} s "
        f"(else ~20 ms) · median of {args.iterations} runs"
    )
    print(
        f"{'retry':<13}{'wall s':>8}{'p99 ms':>9}{'attempts':>10}{'hedges (won)':>14}{'requests':>10}"
        f"{'slow':>6}  correct"
    )
    for name, r in rows.items():
        hedges = f"{r['hedges']:.0f} ({r['won']:.0f})"
        print(
            f"{name:<13}{r['wall']:>8.3f}{1000 * r['p99']:>9.1f}{r['attempts']:>10.0f}{hedges:>14}"
            f"{r['requests']:>10.0f}{r['slow']:>6.0f}  {'yes' if r['ok'] else 'NO'}"
        )

    plain, hedged = rows["exponential"], rows["hedged"]
    speedup = plain["wall"] / hedged["wall"] if hedged["wall"] > 0 else float("inf")
    extra = hedged["requests"] / plain["requests"] - 1 if plain["requests"] else float("inf")
    passed = hedged["ok"] and plain["ok"] and speedup >= args.speedup and extra <= args.extra
    print()
    verdict(
        f"both correct; hedged wall at least {args.speedup:g}x shorter, for at most {100 * args.extra:.0f} % more "
        "server requests",
        f"{speedup:.2f}x shorter ({plain['wall']:.3f} s → {hedged['wall']:.3f} s), {100 * extra:+.1f} % server "
        f"requests, p99 attempt latency {1000 * plain['p99']:.0f} → {1000 * hedged['p99']:.0f} ms",
        passed,
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
