"""Figures as people read them: durations with a unit, counts as integers, sizes in MiB, tallies as ``a × n``.

Used by the reports and by :meth:`orchbench.Workload.format_stats`; a plugin may use them for its own stats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIB = 2**20  # bytes in a MiB


def duration(seconds: float | None) -> str:
    """``0.000412`` → ``412 µs``, ``0.0752`` → ``75.2 ms``, ``3.4567`` → ``3.46 s``, ``754`` → ``12 min 34 s``."""
    if seconds is None:
        return "n/a"
    magnitude = abs(seconds)
    if magnitude >= 60:
        minutes, rest = divmod(round(magnitude), 60)
        return f"{'-' if seconds < 0 else ''}{minutes} min {rest} s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if magnitude >= scale or unit == "µs":
            return f"{_three_digits(seconds / scale)} {unit}"
    raise AssertionError("unreachable")


def _three_digits(value: float) -> str:
    """About three significant digits, never in scientific notation: 412, 75.2, 3.46, 0.5."""
    magnitude = abs(value)
    decimals = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 retry``, ``3 retries``: the count and the word that fits it."""
    return f"{count(n)} {word if n == 1 else many or word + 's'}"


def counted(n: int, unit: str) -> str:
    """``1 word``, ``3 words``: a count of a workload's unit (named in the plural, e.g. ``words``)."""
    return f"{count(n)} {unit[:-1] if n == 1 and unit.endswith('s') and not unit.endswith('ss') else unit}"


def count(n: int | float) -> str:
    """An integer with thousands separators: ``20507`` → ``20,507``."""
    return f"{round(n):,}"


def mib(n_bytes: float | None) -> str:
    """A size in MiB (in KiB below one MiB): ``1,536.0 MiB``, ``512.0 KiB``; ``n/a`` when not measured."""
    if n_bytes is None:
        return "n/a"
    return f"{n_bytes / MIB:,.1f} MiB" if n_bytes >= MIB else f"{n_bytes / 2**10:,.1f} KiB"


def tally(counts: Mapping[Any, Any]) -> str:
    """Counts by kind: ``{'200': 508, '500': 5}`` → ``200 × 508 · 500 × 5``."""
    return " · ".join(f"{key} × {count(n)}" for key, n in counts.items()) or "none"


def figure(key: str, value: Any) -> str:
    """A stat's value by its kind: ``*_s`` numbers as durations, integers as counts, other numbers to four
    significant digits, ``by_*`` mappings as tallies, other mappings as ``key value · …``, else its text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("_s"):
        return duration(value)
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, Mapping):
        if key.startswith("by_"):  # counts by kind, e.g. by_status
            return tally(value)
        return " · ".join(f"{label(str(k))} {figure(str(k), v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(figure(key, v) for v in value) or "none"
    return str(value)


def label(key: str) -> str:
    """A stat's key as words: ``max_in_flight`` → ``max in flight``, ``cpu_s`` → ``cpu``."""
    return key.removesuffix("_s").replace("_", " ")
