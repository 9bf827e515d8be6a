"""Presets: a strategy with fixed settings under a name of its own, usable wherever a strategy name is.

Plugins supply them with the ``orchbench_presets`` hook; each workload brings those of its own (the built-in
anagram workload's ``naive``, the scoring workload's ``original-design``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    """A named strategy with fixed settings: ``orchbench run NAME`` runs ``strategy`` with ``strategy_options``
    and the RunSpec fields in ``spec`` changed (e.g. ``{"retry": "none", "cache": False}``).

    ``renamed_from`` holds earlier names of the preset: still accepted, with one deprecation line.
    """

    name: str
    description: str
    strategy: str
    spec: dict[str, Any] = field(default_factory=dict)
    strategy_options: dict[str, Any] = field(default_factory=dict)
    renamed_from: tuple[str, ...] = ()
