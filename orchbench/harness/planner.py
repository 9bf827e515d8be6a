"""The order of runs: warm-ups first, then measured rounds interleaved across strategies.

Interleaving (A B C, A B C, ...) spreads machine drift (thermal throttling, a background job, a cache that
warms over time) across every strategy instead of loading it onto whichever ran last. On top of that each round
is rotated one step (A B C, B C A, C A B, ...) so that over every ``n`` rounds each strategy runs in each
position of the round equally often: no strategy is always the first one after a warm-up or always the one that
follows the heaviest neighbour. With two strategies the rotation gives A B, B A, A B, ... (the classic ABBA
counterbalancing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from orchbench.errors import UsageError

MAX_RUNS = 100_000  # far beyond any useful comparison; a typo such as -n 10000000000 must not exhaust memory


@dataclass(frozen=True)
class PlannedRun:
    """One run to perform: the round it belongs to (counted from 1 within its phase), and whether it is a warm-up."""

    round: int
    strategy: str
    warmup: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rotated(strategies: Sequence[str], shift: int) -> list[str]:
    k = shift % len(strategies)
    return [*strategies[k:], *strategies[:k]]


def plan(strategies: list[str], iterations: int, warmup: int) -> list[PlannedRun]:
    """Warm-up rounds then ``iterations`` measured rounds, each round running every strategy once, rotated."""
    if not strategies:
        raise UsageError("no strategy to run: give at least one")
    seen: set[str] = set()
    for name in strategies:
        if name in seen:
            raise UsageError(f"strategy {name!r} is given twice")
        seen.add(name)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise UsageError(f"iterations must be a whole number of at least 1 (got {iterations!r})")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UsageError(f"warmup must be a whole number of at least 0 (got {warmup!r})")

    total = (iterations + warmup) * len(strategies)
    if total > MAX_RUNS:
        raise UsageError(
            f"{total:,} runs planned ({len(strategies)} strategies × {iterations + warmup} rounds); "
            f"at most {MAX_RUNS:,}"
        )
    runs: list[PlannedRun] = []
    for index in range(warmup):
        runs += [PlannedRun(index + 1, name, True) for name in _rotated(strategies, index)]
    for index in range(iterations):
        runs += [PlannedRun(index + 1, name, False) for name in _rotated(strategies, index)]
    return runs
