"""Target 6: ``orchbench list`` and ``orchbench --help`` each in ≤ 0.5 s (no heavy import at start-up).

Each command is timed start to exit (``time.perf_counter`` around the process) ``--runs`` times after one
warm-up; the median is the figure. ``python -X importtime -m orchbench list`` shows where the time goes.

    python benchmarks/startup.py             # 10 runs each: about 15 s
    python benchmarks/startup.py --quick     # 3 runs each
"""

from __future__ import annotations

import sys

from _common import median, orchbench_cmd, parser, table, timed, verdict

LIMIT_S = 0.5


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args()
    runs = 3 if args.quick else args.runs
    figures = {}
    for name, argv in (("orchbench list", ["list"]), ("orchbench --help", ["--help"])):
        cmd = [*orchbench_cmd(), *argv]
        timed(cmd)  # warm-up: bytecode caches, page cache
        times = [timed(cmd) for _ in range(runs)]
        figures[name] = {"median_s": median(times), "min_s": min(times), "max_s": max(times)}
    table(
        [[n, f["median_s"], f["min_s"], f["max_s"]] for n, f in figures.items()],
        ["command", "median s", "min s", "max s"],
    )
    worst = max(f["median_s"] for f in figures.values())
    verdict(
        f"orchbench list and --help each <= {LIMIT_S} s",
        "; ".join(f"{n} {f['median_s']:.2f} s" for n, f in figures.items()),
        worst <= LIMIT_S,
        figures,
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
