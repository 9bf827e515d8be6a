"""Every command's --help reads cleanly at 80 columns: wrapped at whole words, no line cut, no type after a flag."""

from __future__ import annotations

import pytest

from tests.cli_here import cli_here

COMMANDS = [
    [],
    ["list"],
    ["run"],
    ["compare"],
    ["report"],
    ["sweep"],
    ["profile"],
    ["benchmark"],
    ["check"],
    ["serve"],
    ["reference"],
    ["reference", "record"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "orchbench")
def test_help_reads_cleanly_at_80_columns(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    ran = cli_here(*command, "--help")
    assert ran.code == 0, ran
    lines = ran.out.splitlines()
    assert lines and max(map(len, lines)) <= 80, ran.out
    assert "<bool>" not in ran.out  # a flag takes no value
    # a repeatable option says what one value looks like, not the Python type of the list (an argument may)
    assert not [line for line in lines if line.lstrip().startswith("-") and "<list[" in line], ran.out
    assert not any(line.rstrip().endswith(("...", "…")) and "Usage:" not in line for line in lines), ran.out
    assert not any(ch in ran.out for ch in "╭│╰")  # plain text: no box whose lines a narrow terminal would cut
    assert "--help" in ran.out


def test_every_command_that_takes_strategies_has_the_short_flag():
    for command in (["compare"], ["sweep"], ["profile"]):
        out = cli_here(*command, "--help").out
        assert "-s, --strategies" in out, command
