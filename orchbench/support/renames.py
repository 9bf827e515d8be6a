"""Renamed names: the old one still works and says, once on stderr, which new name to use."""

from __future__ import annotations

import sys
from collections.abc import Container, Mapping

_announced: set[tuple[str, str]] = set()


def current_name(flag: str, name: str, renamed: Mapping[str, str], known: Container[str]) -> str:
    """``name``, or the new name when ``name`` is a deprecated one of something in ``known``.

    The first use of a deprecated name in a process prints ``orchbench: FLAG OLD is deprecated; use FLAG NEW``
    on stderr; ``flag`` is how the user gave it (``--scenario``, ``--test-case``, ``strategy``)."""
    new = renamed.get(name)
    if new is None or name in known or new not in known:
        return name
    if (flag, name) not in _announced:
        _announced.add((flag, name))
        print(f"orchbench: {flag} {name} is deprecated; use {flag} {new}", file=sys.stderr, flush=True)
    return new
