"""A streaming summary of attempt latencies: percentiles to within 0.5 %, without a list of every latency.

Latencies fall into buckets a factor 1.01 wide on a log scale; a percentile is the midpoint of the bucket that
holds its rank (nearest rank), clamped to the smallest and largest latency seen, which are kept exactly. A run of
a million attempts needs a few hundred buckets instead of a million floats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

RATIO = 1.01
_LOG_RATIO = math.log(RATIO)


class LatencySummary:
    """Counts of latencies per bucket, and the exact extremes."""

    __slots__ = ("counts", "n", "low", "high")

    def __init__(self, latencies: Iterable[float] = ()) -> None:
        self.counts: dict[int | None, int] = {}  # bucket → count; None holds latencies of zero (or below)
        self.n = 0
        self.low = math.inf
        self.high = -math.inf
        for seconds in latencies:
            self.add(seconds)

    def add(self, seconds: float) -> None:
        key = math.floor(math.log(seconds) / _LOG_RATIO) if seconds > 0 else None
        self.counts[key] = self.counts.get(key, 0) + 1
        self.n += 1
        self.low = min(self.low, seconds)
        self.high = max(self.high, seconds)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0 < q ≤ 100, nearest rank); None when nothing was added."""
        if not self.n:
            return None
        rank = max(1, math.ceil(q / 100 * self.n))
        seen = self.counts.get(None, 0)
        if seen >= rank:
            return 0.0
        for key in sorted(k for k in self.counts if k is not None):
            seen += self.counts[key]
            if seen >= rank:
                return min(max(RATIO ** (key + 0.5), self.low), self.high)
        return self.high
