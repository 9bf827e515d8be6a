"""The run options, declared once in ``RunOptions`` and given to a command by ``with_run_options``."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from orchbench.cli import common


def _probe_app(seen: list) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @common.with_run_options(only=("workload", "seed", "sets"), seed=7)
    def probe(name: str, opts: common.RunOptions, loud: bool = False) -> None:
        seen.append((name, opts, loud))

    return app


def test_the_options_a_command_takes_reach_it_as_one_run_options():
    seen: list = []
    result = CliRunner().invoke(_probe_app(seen), ["x", "-w", "scoring", "--set", "a=1", "--set", "b=2", "--loud"])
    assert result.exit_code == 0, result.output
    [(name, opts, loud)] = seen
    assert (name, opts.workload, opts.sets, opts.seed, loud) == ("x", "scoring", ["a=1", "b=2"], 7, True)
    assert opts.retry == "exponential" and opts.fault_rate is None  # not offered here: RunOptions' defaults


def test_options_a_command_does_not_take_are_refused():
    seen: list = []
    result = CliRunner().invoke(_probe_app(seen), ["x", "--fault-rate", "0.5"])
    assert result.exit_code != 0 and not seen
    assert CliRunner().invoke(_probe_app(seen), ["x"]).exit_code == 0 and seen[0][1].sets == []
