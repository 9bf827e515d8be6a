"""The rich console every table is printed on."""

from __future__ import annotations

import os
import sys
from typing import Any

PIPE_WIDTH = 160  # off a terminal (a pipe, a file, CI) tables keep all their columns instead of folding to 80


def make_console(**kwargs: Any) -> Any:
    from rich.console import Console

    stream = sys.stderr if kwargs.get("stderr") else sys.stdout
    if not stream.isatty() and not os.environ.get("COLUMNS", "").isdigit():  # COLUMNS=100 sets a pipe's width
        kwargs.setdefault("width", PIPE_WIDTH)
    return Console(**kwargs)
