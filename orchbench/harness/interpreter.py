"""How orchbench starts another Python process: never with the working directory on ``sys.path``.

``python -m module`` (and ``-c``) put the current directory first on ``sys.path``: a ``json.py`` or ``tenacity.py``
lying where the user runs orchbench would be imported instead of the real module — run, or break the run. A child
gets ``-P`` (Python 3.11+: no such entry), which :mod:`multiprocessing` passes on to a pool's fork server and
spawned workers, and, through ``PYTHONPATH``, the entries of this process's ``sys.path`` it would not find itself:
it imports exactly what its parent imports. The interpreter's own directories (standard library, site-packages)
are left out of ``PYTHONPATH``, so another Python that a workload starts in turn is not handed this one's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def command(*args: str, python: str | None = None) -> list[str]:
    """``[python, -P, *args]``: this interpreter (or ``python``, another one: ``compare --python``), without the
    current directory on the child's ``sys.path``."""
    return [python or sys.executable, "-P", *args]


def _own_directories() -> tuple[str, ...]:
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    return tuple(dict.fromkeys(os.path.join(os.path.realpath(p), "") for p in prefixes))


def extra_path() -> list[str]:
    """The absolute entries of this process's ``sys.path`` outside the interpreter's own directories (a source
    checkout, an editable install's directory, a ``PYTHONPATH`` entry); never ``''``, the current directory."""
    own = _own_directories()
    return [
        entry
        for entry in dict.fromkeys(sys.path)
        if entry and os.path.isabs(entry) and not os.path.join(os.path.realpath(entry), "").startswith(own)
    ]


def environment(base: Mapping[str, str] | None = None, *, python: str | None = None) -> dict[str, str]:
    """``base`` (this process's environment by default) with :func:`extra_path` on ``PYTHONPATH``, after what
    ``PYTHONPATH`` already holds. For ``python``, another interpreter (``compare --python``), nothing is added:
    it imports from its own environment."""
    env = dict(os.environ if base is None else base)
    if python is not None and python != sys.executable:
        return env
    given = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    entries = list(dict.fromkeys([*given, *extra_path()]))
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    return env
