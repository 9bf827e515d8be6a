"""How good can a schedule of the scoring workload be? The limit against schedules computed from the server's own
fault and latency decisions (case ``original``, scenario ``default``), with no client or server cost at all.

The embedded server's fate for every request is a pure function of (seed, line, how many requests for the line it
admitted before), so each line's chain of attempts is known in advance: the latency of each, which fail (and
how), which 503s ask to wait. This script replays those chains on ``capacity`` slots:

- the limit's two bounds: the server's busy time over its capacity, and the slowest line's critical path (its
  attempts one after another, plus the ``Retry-After`` of its 503s);
- a clairvoyant schedule (lines with the longest chain first): how near a client that knew every fate could come;
- the input-order schedule a real client runs (lines in order, a retry before a new line, no backoff beyond
  ``Retry-After``): what a client that cannot know which answer will be slow can reach, however fast it is;
- the same with tail hedges (a second attempt beside one older than the hedge delay, only into spare slots, the
  loser holding its slot to the end), as ``--retry hedged --set retry.spare_only=true`` does.

    python benchmarks/scoring_schedules.py                # about a minute
    python benchmarks/scoring_schedules.py --hedge-delay 0.1
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from _common import parser, table, verdict

from orchbench.types import RunSpec
from orchbench.workloads.scoring import ScoringWorkload
from orchbench.workloads.scoring.model import Decision, Kind, ServerConfig, decide, format_retry_after


@dataclass
class Line:
    attempts: list[Decision]  # its fates, up to and including the first success, then a few more (for hedges)

    def fate(self, k: int, config: ServerConfig, text: bytes) -> Decision:
        while k >= len(self.attempts):
            self.attempts.append(decide(config, text, len(self.attempts)))
        return self.attempts[k]


def lines_of(case: str, scenario: str) -> tuple[list[bytes], ServerConfig, float]:
    workload = ScoringWorkload(RunSpec(strategy="asyncio", workload="scoring", case=case, scenario=scenario), None)
    raw = workload.load_input()
    items = workload.prepare(raw, lambda name, fn, arg: fn(arg))
    seen: dict[str, None] = {}
    for item in items:  # distinct, in input order (as the harness runs them), blank lines not sent
        if item not in seen and not workload._skipped(item):
            seen[item] = None
    limit = workload.limit_s(raw, list(seen), None)
    return [line.encode("utf-8") for line in seen], workload.server_config(), limit or 0.0


def replay(texts: Sequence[bytes], config: ServerConfig, hedge_delay: float | None = None) -> tuple[float, int]:
    """Makespan of a list schedule of the lines in the given order on ``capacity`` slots (a retry or hedge is
    served before a new line), and the number of hedges."""
    _, asked = format_retry_after(config.retry_after)
    lines = [Line([]) for _ in texts]
    slots, now, end, hedges, started = config.capacity, 0.0, 0.0, 0, 0
    running: list[tuple[float, int, Kind]] = []  # (answer time, line, kind)
    ready: list[tuple[float, int, bool]] = []  # (time, line, is a hedge): retries and hedges
    next_attempt, live, begun, done = [0] * len(texts), [0] * len(texts), [0.0] * len(texts), [False] * len(texts)
    finished = 0
    while finished < len(texts):
        while slots:
            if ready and ready[0][0] <= now:
                _, i, hedge = heapq.heappop(ready)
                if done[i] or (hedge and live[i] > 1):
                    continue
                hedges += hedge
            elif started < len(texts):
                i, started = started, started + 1
                if started == len(texts) and hedge_delay is not None:  # the tail: room is spare from now on
                    for j in {line for _, line, _ in running}:
                        heapq.heappush(ready, (max(now, begun[j] + hedge_delay), j, True))
            else:
                break
            decision = lines[i].fate(next_attempt[i], config, texts[i])
            next_attempt[i] += 1
            live[i] += 1
            begun[i] = now
            heapq.heappush(running, (now + decision.latency, i, decision.kind))
            slots -= 1
            if hedge_delay is not None and started == len(texts):
                heapq.heappush(ready, (now + hedge_delay, i, True))
        times = [running[0][0]] if running else []
        if ready and slots:
            times.append(ready[0][0])
        now = max(now, min(times))
        while running and running[0][0] <= now:
            answered, i, kind = heapq.heappop(running)
            slots += 1
            live[i] -= 1
            if done[i]:
                continue
            if kind is Kind.OK:
                done[i], finished, end = True, finished + 1, max(end, answered)
            elif live[i] == 0:
                heapq.heappush(ready, (answered + (asked if kind is Kind.UNAVAILABLE else 0.0), i, False))
    return end, hedges


def chain_length(text: bytes, config: ServerConfig) -> float:
    _, asked = format_retry_after(config.retry_after)
    total = 0.0
    for k in range(1000):
        decision = decide(config, text, k)
        total += decision.latency
        if decision.kind is Kind.OK:
            return total
        total += asked if decision.kind is Kind.UNAVAILABLE else 0.0
    return total


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--case", default="original")
    p.add_argument("--scenario", default="default")
    p.add_argument("--hedge-delay", type=float, default=0.15, help="seconds before a tail hedge (default 0.15)")
    args = p.parse_args()
    texts, config, limit = lines_of(args.case, args.scenario)
    rows, figures = [], {}
    clairvoyant, _ = replay(sorted(texts, key=lambda t: -chain_length(t, config)), config)
    in_order, _ = replay(texts, config)
    hedged, hedges = replay(texts, config, args.hedge_delay)
    for name, wall, note in (
        ("limit (max of the two bounds)", limit, "orchbench's limit_s"),
        ("clairvoyant: longest chain first", clairvoyant, "knows every fate in advance"),
        ("input order", in_order, "no foreknowledge, no cost"),
        (f"input order, tail hedges after {args.hedge_delay:g} s", hedged, f"{hedges} hedges"),
    ):
        figures[name] = wall
        rows.append([name, wall, wall / limit, note])
    table(rows, ["schedule", "wall s", "× limit", ""])
    verdict(
        "the limit is a lower bound no schedule beats, and tail hedges bring the input-order schedule near it",
        f"clairvoyant {clairvoyant / limit:.3f}x, input order {in_order / limit:.3f}x, "
        f"with tail hedges {hedged / limit:.3f}x the limit ({limit:.3f} s)",
        limit <= min(clairvoyant, in_order, hedged) * (1 + 1e-9),
        figures,
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
