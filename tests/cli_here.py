"""The command line run in this process (fast: no interpreter start-up), with its status and output captured."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

from orchbench.cli.app import main
from orchbench.harness import isolate, session
from orchbench.types import RunSpec


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        """The non-blank lines of stderr."""
        return [line for line in self.err.splitlines() if line.strip()]


def cli_here(*args: str, stdin: bytes | None = None) -> Ran:
    """``orchbench ARGS`` through :func:`orchbench.cli.app.main`, as the console script calls it."""
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


class WouldRun(BaseException):
    """Raised instead of starting a measured run: the options passed every check."""

    def __init__(self, spec: RunSpec) -> None:
        super().__init__(spec.strategy)
        self.spec = spec


def block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every measured run a command would start raises :class:`WouldRun` instead (the ``no_runs`` fixture)."""

    def refuse(spec: RunSpec, **_: object) -> None:
        raise WouldRun(spec)

    monkeypatch.setattr(isolate, "run_isolated", refuse)
    monkeypatch.setattr(session, "run_isolated", refuse)


def examples(count: int) -> settings:
    """Hypothesis settings for commands run in this process: ``count`` examples, the same ones every run."""
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
