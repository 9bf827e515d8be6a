"""The scoring client's request path: CPU per request with the lean HTTP/1.1 client or aiohttp, on asyncio's
event loop or uvloop (case ``original``, scenario ``default``, strategy ``asyncio``).

No pass/short target: the figures say what each choice costs. The embedded server runs on the same event loop
as the client (``ORCHBENCH_LOOP`` reaches both). CPU per request comes from the processes' own
counters (the run's CPU over its attempts; the embedded server's CPU during the run over its requests), which a
shared machine disturbs far less than wall time. The four settings run interleaved, round after round.

    python benchmarks/scoring_request_path.py            # 3 rounds × 4 settings: about 2 minutes
    python benchmarks/scoring_request_path.py --quick    # 1 round
"""

from __future__ import annotations

import importlib.util
import sys

from _common import median, parser, progress, request_costs, run, table, verdict


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--iterations", "-n", type=int, default=3)
    p.add_argument("--strategy", default="asyncio")
    args = p.parse_args()
    rounds = 1 if args.quick else args.iterations
    loops = ["asyncio", "uvloop"] if importlib.util.find_spec("uvloop") else ["asyncio"]
    settings = [(loop, client) for loop in loops for client in ("lean", "aiohttp")]
    runs: dict[tuple[str, str], list[dict]] = {setting: [] for setting in settings}
    for i in range(rounds):
        for loop, client in settings:
            progress(f"round {i + 1}: {loop} loop, {client} client")
            runs[(loop, client)].append(
                run(
                    args.strategy,
                    "-w",
                    "scoring",
                    "-t",
                    "original",
                    "--scenario",
                    "default",
                    "--set",
                    f"aiohttp={client == 'aiohttp'}",
                    extra_env={"ORCHBENCH_LOOP": loop},
                )
            )
    rows, summary = [], {}
    for (loop, client), results in runs.items():
        costs = [request_costs(r) for r in results]
        s = summary[f"{loop}/{client}"] = {
            "runs": len(results),
            "median_wall_s": median([r["wall_s"] for r in results]),
            "client_us_per_request": median([c["client_us"] for c in costs]),
            "server_us_per_request": median([c["server_us"] for c in costs]),
            "correct": sum(bool(r["correct"]) for r in results),
        }
        rows.append(
            [
                loop,
                client,
                len(results),
                s["median_wall_s"],
                s["client_us_per_request"],
                s["server_us_per_request"],
                f"{s['correct']}/{len(results)}",
            ]
        )
    table(rows, ["event loop", "client", "runs", "median wall s", "client µs/req", "server µs/req", "correct"])
    if "uvloop" not in loops:
        print("uvloop is not installed (pip install uvloop): asyncio's loop only")
    best = min(summary, key=lambda k: summary[k]["client_us_per_request"])
    b = summary[best]
    verdict(
        "the leanest request path (client CPU per request)",
        f"{best}: {b['client_us_per_request']:.0f} µs per request ({b['median_wall_s']:.2f} s wall)",
        all(s["correct"] == s["runs"] for s in summary.values()),
        {"settings": summary},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
