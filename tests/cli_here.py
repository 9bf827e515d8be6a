"""The command line run in this process (fast: no interpreter start-up), with its status and output captured."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from orchbench.cli import main


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        """The non-blank lines of stderr."""
        return [line for line in self.err.splitlines() if line.strip()]


def cli_here(*args: str, stdin: bytes | None = None) -> Ran:
    """``orchbench ARGS`` through :func:`orchbench.cli.main`, as the console script calls it."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = saved
    return Ran(code, out.getvalue(), err.getvalue())


def assert_one_clear_line(ran: Ran, *fragments: str) -> None:
    """A non-zero status, no traceback, and exactly one line on stderr holding every fragment."""
    assert ran.code != 0, ran
    assert "Traceback" not in ran.err, ran.err
    lines = ran.lines()
    assert len(lines) == 1, ran.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
