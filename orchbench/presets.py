"""Presets: a strategy with fixed settings under a name of its own, usable wherever a strategy name is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    strategy: str
    spec: dict[str, Any] = field(default_factory=dict)
    strategy_options: dict[str, Any] = field(default_factory=dict)


PRESETS = {
    p.name: p
    for p in (
        Preset(
            "naive",
            "the original exercise's orchestrator: sequential, no retry, no caching (the dictionary is "
            "reloaded on every call, duplicates recomputed)",
            "sequential",
            {"retry": "none", "retry_options": {}, "cache": False, "memo": False},
        ),
        Preset(
            "original-design",
            "the original scoring service's design: hybrid, one process per core, "
            "100 concurrent per process, 3 attempts with 2^n s backoff, a per-process cache",
            "hybrid",
            {"retry": "exponential", "retry_options": {"max_attempts": 3, "base": 2.0, "cap": 60.0, "jitter": False}},
            {"concurrency": 100},
        ),
    )
}
RENAMED = {"seed-design": "original-design"}  # old preset name -> new (still accepted, deprecated)
