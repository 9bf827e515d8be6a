"""A service's ``/stats`` as a run shows and saves it: read with bounds, checked, and for a service that runs on
between runs (``--url``), only what changed during this run.

``/stats`` is optional: a service may not have it (the original one did not) or may answer anything. Nothing read
from it can fail a run; what cannot be used is left out and said in a ``note``. The counters orchbench's own server
keeps (see ``app.Stats``) are read by their meaning:

- counters (``requests``, ``served``, ``by_status``, ``cpu_s``, …): the difference, after the run minus before;
- ``in_flight``: a level, as it is after the run;
- peaks (``max_*``): known for this run only when the run raised them; otherwise left out, with a note;
- ``unique_lines``: the distinct lines the service has seen in all; this run's only if it had seen none before.

A counter that went *down* means the service restarted or was reset during the run: the figures after the run are
shown as the service gave them, with a note. Unknown keys are kept when they are numbers or short text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_KEYS = 40  # keys shown from a /stats answer; a service with more has the rest left out (noted)
MAX_TEXT = 200  # characters of a text value
# the keys orchbench's own server answers with numbers (app.Stats, and what /stats adds); shown grouped
NUMBERS = frozenset(
    {
        "requests", "served", "in_flight", "max_in_flight", "refused", "dropped", "malformed", "hung", "slow",
        "early_retries", "connections_refused", "max_connections_open", "unique_lines", "cpu_s", "cpu_s_at_start",
    }
)  # fmt: skip
LEVELS = ("in_flight",)
SEEN = ("unique_lines",)
DROPPED = ("config",)  # the embedded server's settings: saved with the run already


def read(url: str, timeout: float = 5.0) -> tuple[dict[str, Any] | None, str | None]:
    """The service's /stats, checked (see :func:`checked`), or None and why not; never raises for what the
    service answers (``timeout`` bounds the whole request)."""
    from orchbench.workloads.scoring.process import get_json

    try:
        raw = get_json(url, "/stats", timeout=timeout)
    except (OSError, ValueError, UnicodeError) as exc:
        return None, f"no usable /stats ({_shorten(str(exc))}); it is optional"
    stats, left_out = checked(raw)
    return stats, (f"/stats: left out {', '.join(left_out)}" if left_out else None)


def checked(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The keys of a /stats answer that can be shown and saved as they are — numbers, short text, ``by_*``
    mappings of counts — and a description of what was left out."""
    stats: dict[str, Any] = {}
    left_out: list[str] = []
    for key, value in raw.items():
        if key in DROPPED:
            continue
        if len(stats) >= MAX_KEYS:
            left_out.append(f"{len(raw) - MAX_KEYS:,} more keys")
            break
        if key in NUMBERS and not _is_number(value):
            left_out.append(_shorten(repr(key), 40))
        elif _is_number(value) or isinstance(value, bool):
            stats[key] = value
        elif isinstance(value, float):  # inf or NaN
            left_out.append(_shorten(repr(key), 40))
        elif isinstance(value, str):
            stats[key] = _shorten(value)
        elif isinstance(value, Mapping) and key.startswith("by_") and all(_is_count(v) for v in value.values()):
            stats[key] = {_shorten(str(k), 40): v for k, v in list(value.items())[:MAX_KEYS]}
        else:
            left_out.append(_shorten(repr(key), 40))
    return stats, left_out


def difference(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What changed between two checked readings (see the module's rules), and notes on what is not this run's."""
    if _went_back(before, after):
        return dict(after), [
            "the service's counters went back during the run (restarted or reset): shown as it gave them after the run"
        ]
    stats: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in after.items():
        earlier = before.get(key)
        if key in LEVELS or earlier is None or not (_is_number(value) or isinstance(value, Mapping)):
            stats[key] = value
        elif key.startswith("max_") and _is_number(value):
            if _is_number(earlier) and value > earlier:
                stats[key] = value
            else:
                notes.append(f"{key}: this run's is unknown (the service's peak of {value:,} came before it)")
        elif key in SEEN:
            if before.get("requests") == 0 or earlier == 0:
                stats[key] = value
            else:
                notes.append(f"{key}: this run's is unknown (the service had seen {earlier:,} before it)")
        elif isinstance(value, Mapping):
            old = earlier if isinstance(earlier, Mapping) else {}
            stats[key] = {k: n - old.get(k, 0) for k, n in value.items() if n - old.get(k, 0)}
        elif _is_number(earlier):
            stats[key] = value - earlier
        else:
            stats[key] = value
    return stats, notes


def _went_back(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a counter is lower after the run than before it (levels and peaks aside)."""
    for key, value in after.items():
        earlier = before.get(key)
        if key in LEVELS or key.startswith("max_"):
            continue
        if _is_number(value) and _is_number(earlier) and value < earlier:
            return True
        if isinstance(value, Mapping) and isinstance(earlier, Mapping):
            if any(value.get(k, 0) < n for k, n in earlier.items()):
                return True
    return False


def well_typed(stats: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stats split into those whose known keys hold what they should (to be grouped and shown as figures)
    and the rest (shown as plain text): a saved file may hold anything."""
    good: dict[str, Any] = {}
    odd: dict[str, Any] = {}
    for key, value in stats.items():
        if key in NUMBERS:
            ok = _is_number(value)
        elif key.startswith("by_"):
            ok = isinstance(value, Mapping) and all(_is_number(v) for v in value.values())
        else:
            ok = True
        (good if ok else odd)[key] = value
    return good, odd


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shorten(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
