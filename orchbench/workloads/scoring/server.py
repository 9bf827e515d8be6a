"""The scoring HTTP server of the original scoring service, with configurable latency, capacity and
deterministic faults.

Endpoints:

- ``POST`` to any path but ``/score`` and ``/reset`` (``/`` above all) with the raw UTF-8 line as the body, whatever
  its ``Content-Type``, answers ``{"score": N}`` (see ``scores.score_line``): the original service's protocol.
- ``POST /score`` with the JSON body ``{"line": "..."}`` answers the same (the JSON form, kept for compatibility).
- ``GET /health`` answers ``{"status": "ok"}``; ``GET /stats`` answers the counters described in ``Stats``;
  ``POST /reset`` forgets every line seen and zeroes the counters (for a long-running ``orchbench serve``).

Behaviour, all set by a ``ServerConfig``:

- **Latency**: each admitted request waits a lognormal time (``latency_median`` seconds, shape
  ``latency_sigma``, cut at ``MAX_Z`` standard deviations); a share ``slow_rate`` waits ``slow_latency`` seconds
  instead.
- **Capacity**: at most ``capacity`` admitted requests are in flight (0: unlimited). Above it the request is
  answered at once with 429 and a ``Retry-After`` header. The header holds *decimal seconds*: a whole number when
  the wait is whole (``Retry-After: 2``, as in RFC 9110) and otherwise up to three decimals (``Retry-After: 0.05``).
  503 answers carry the same header.
- **Faults** of an admitted request, decided by ``decide``: 503 at once (no latency, holds no slot), or after
  the latency a 500, a dropped connection (the transport is closed without an answer), or a 200 with a malformed
  body (invalid JSON, or JSON without ``score``), or no answer at all (a *hang*: the request is held open until
  the client gives up; ``hang_rate`` 1 makes a server that accepts every request and never answers).
  The decision is a pure function of (seed, the line's UTF-8
  bytes, how many requests for that line the server admitted before), so every client meets the same faults
  whatever its order or concurrency. Requests refused for capacity (429) are not counted as seen: the fault
  sequence of a line does not depend on how often it was refused.
- **Death**: with ``die_after`` N > 0, the server kills itself (SIGKILL, as a crash would) when the N-th
  score request arrives, dropping every request in flight; it stays dead.
- **Limits**: bodies above ``max_body`` bytes get 413, at most ``max_connections`` connections are kept (further
  ones are closed at once), error bodies never echo the request (not even aiohttp's own answers to unparsable
  requests), and the default bind address is 127.0.0.1.

Run it with ``python -m orchbench.workloads.scoring.server --port 0 --scenario default`` (it prints
``listening URL`` on one line once bound), or ``orchbench serve``, or from Python with ``ServerProcess``.

The server is split by job: ``model`` (settings, scenarios, the fault decisions), ``app`` (the aiohttp application)
and ``process`` (the server in a child process); this module is its command line and re-exports their public names.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from orchbench.workloads.scoring.app import ScoringServer, ServerState, Stats, build_app, serve
from orchbench.workloads.scoring.model import (
    DEFAULT_HOST,
    MAX_Z,
    SCENARIOS,
    Decision,
    Kind,
    ServerConfig,
    decide,
    field_type,
    format_retry_after,
)
from orchbench.workloads.scoring.process import ServerProcess, get_json

__all__ = [
    "DEFAULT_HOST",
    "MAX_Z",
    "SCENARIOS",
    "Decision",
    "Kind",
    "ScoringServer",
    "ServerConfig",
    "ServerProcess",
    "ServerState",
    "Stats",
    "build_app",
    "decide",
    "field_type",
    "format_retry_after",
    "get_json",
    "main",
    "serve",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchbench.workloads.scoring.server", description="The orchbench line-scoring server."
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--scenario", default="default", choices=sorted(SCENARIOS))
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is no longer the parent")
    for f in fields(ServerConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, type=field_type(f.name))
    return parser


def main(argv: list[str] | None = None) -> int:
    from orchbench import run_loop

    args = _parser().parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in fields(ServerConfig)}
    try:
        config = SCENARIOS[args.scenario].with_overrides(**overrides).validate()
    except ValueError as exc:
        print(f"scoring server: {exc}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"listening {url}", flush=True)

    try:
        run_loop(serve(config, args.host, args.port, on_ready=ready, parent_pid=args.parent_pid))  # uvloop if installed
    except OSError as exc:
        print(f"scoring server: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
