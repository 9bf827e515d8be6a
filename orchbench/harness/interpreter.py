"""How orchbench starts another Python process: never with the working directory on ``sys.path``.

``python -m module`` (and ``-c``) put the current directory first on ``sys.path``: a ``json.py`` or ``tenacity.py``
lying where the user runs orchbench would be imported instead of the real module — run, or break the run. A child
gets ``-P`` (``PYTHONSAFEPATH``, Python 3.11+) and this process's own ``sys.path`` through ``PYTHONPATH``: it
imports exactly what its parent imports, and nothing from a directory only because it is the current one.
``PYTHONSAFEPATH`` stays in the environment, so that the processes a child starts in turn (a pool's fork server,
spawned workers, a service) are started the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def command(*args: str) -> list[str]:
    """``[python, -P, *args]``: this interpreter, without the current directory on the child's ``sys.path``."""
    return [sys.executable, "-P", *args]


def environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment by default) with ``PYTHONSAFEPATH=1`` and ``PYTHONPATH`` holding this
    process's ``sys.path`` (absolute entries only: ``''`` means "the current directory" and is left out)."""
    env = dict(os.environ if base is None else base)
    env["PYTHONSAFEPATH"] = "1"
    entries = [entry for entry in sys.path if entry and os.path.isabs(entry)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    return env
