"""Target 5: scale. 10 × and 100 × more items cost ≤ 11 × and ≤ 110 × the time; peak memory grows far slower.

Anagrams, scenario ``none`` (no sleep, no faults), ``--no-memo`` so that every word is an item that goes through
the harness (task, retry loop, outcome) — this measures the harness's cost per item, not the dictionary. Inputs
are generated texts of N, 10 N and 100 N words (``texts.generated``), written to a temporary directory.

    python benchmarks/scale.py                  # 10k, 100k, 1M words with asyncio: about 3 minutes
    python benchmarks/scale.py --quick          # 1k, 10k, 100k words: about 20 s
    python benchmarks/scale.py --strategy sequential
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import median, parser, progress, run, table, verdict

LIMITS = {10: 11.0, 100: 110.0}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--base", type=int, default=10_000, help="words in the smallest input")
    p.add_argument("--strategy", default="asyncio")
    p.add_argument("--iterations", "-n", type=int, default=1, help="runs per size (the median is taken)")
    args = p.parse_args()
    from orchbench.workloads.anagrams.texts import generated

    base = 1000 if args.quick else args.base
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for factor in (1, 10, 100):
            path = Path(tmp) / f"words-{factor}.txt"
            path.write_text(generated(base * factor), encoding="utf-8")
            runs = []
            for _ in range(args.iterations):
                progress(f"{base * factor} words, {args.strategy}")
                runs.append(run(args.strategy, "-i", str(path), "--scenario", "none", "--no-memo"))
            results[factor] = {
                "items": runs[0]["items"],
                "wall_s": median([r["wall_s"] for r in runs]),
                "peak_rss_mb": median([r["peak_rss"] / 1e6 for r in runs]),
                "correct": all(r["correct"] for r in runs),
            }
    w1, m1 = results[1]["wall_s"], results[1]["peak_rss_mb"]
    rows = [
        [
            f"{f}x",
            r["items"],
            r["wall_s"],
            r["wall_s"] / w1,
            1e6 * r["wall_s"] / r["items"],
            r["peak_rss_mb"],
            r["peak_rss_mb"] / m1,
            r["correct"],
        ]
        for f, r in results.items()
    ]
    table(rows, ["input", "items", "wall s", "time ratio", "µs/item", "peak MB", "memory ratio", "correct"])
    time_ok = all(results[f]["wall_s"] / w1 <= limit for f, limit in LIMITS.items())
    mem_ratio = results[100]["peak_rss_mb"] / m1
    ok = time_ok and mem_ratio < 10 and all(r["correct"] for r in results.values())
    verdict(
        "10x / 100x items cost <= 11x / 110x the time; peak memory grows far slower than the input",
        f"time {results[10]['wall_s'] / w1:.1f}x and {results[100]['wall_s'] / w1:.1f}x; "
        f"peak memory {mem_ratio:.2f}x for 100x the input ({args.strategy})",
        ok,
        {"strategy": args.strategy, "base": base, "sizes": results},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
