"""The scoring sync client's request path: CPU per request of ``SyncClient`` (blocking sockets, one deadline per
request) scoring lines from a pool of threads against ``orchbench serve --scenario none``.

No pass/short target: the figure says what a sync request costs the client. CPU comes from this process's own
counter (``time.process_time``), which a shared machine disturbs far less than wall time; the server runs in a
process of its own and is not counted. To check the figure with ``/usr/bin/time -v`` (user + sys, start-up
included), give ``--url`` of a server started apart, so that the server is not a child the tool counts too.

    python benchmarks/scoring_sync_client.py            # 3 rounds of 5,000 requests from 8 threads
    python benchmarks/scoring_sync_client.py --quick    # 1 round of 1,000
    orchbench serve --port 8080 --scenario none &
    /usr/bin/time -v python benchmarks/scoring_sync_client.py --url http://127.0.0.1:8080
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from _common import median, parser, progress, table, verdict

from orchbench.workloads.scoring.client import SyncClient
from orchbench.workloads.scoring.server import ServerProcess


def one_round(url: str, requests: int, threads: int) -> tuple[float, float]:
    """(wall seconds, client CPU microseconds per request) of ``requests`` requests from ``threads`` threads."""
    client = SyncClient(url, connections=threads)
    lines = [f"line {i}: a few words to score" for i in range(requests)]
    try:
        client.score("warm up")
        cpu, wall = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(client.score, lines))
        return time.perf_counter() - wall, (time.process_time() - cpu) / requests * 1e6
    finally:
        client.close()


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--iterations", "-n", type=int, default=3)
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--url", help="a scoring server started apart (default: one started here, for the run)")
    args = p.parse_args()
    rounds, requests = (1, 1000) if args.quick else (args.iterations, args.requests)
    results = []
    server = None if args.url else ServerProcess("none")
    url = args.url or server.start()  # type: ignore[union-attr]
    try:
        for i in range(rounds):
            progress(f"round {i + 1}: {requests:,} requests from {args.threads} threads")
            results.append(one_round(url, requests, args.threads))
    finally:
        if server is not None:
            server.stop()
    table([[i + 1, wall, us] for i, (wall, us) in enumerate(results)], ["round", "wall s", "client µs/req (CPU)"])
    us = median([r[1] for r in results])
    verdict(
        "the sync client's CPU per request (figures only)",
        f"{us:.0f} µs per request ({requests:,} requests, {args.threads} threads)",
        True,
        {"rounds": [{"wall_s": w, "client_us_per_request": u} for w, u in results]},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
