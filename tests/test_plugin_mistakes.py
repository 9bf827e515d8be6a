"""Mistakes in a plugin that used to pass silently: a misspelled hook (never called) and a strategy name that cannot
be selected on the command line are reported as plugin problems (`orchbench list` exits 1)."""

from __future__ import annotations

import json

import pytest

from tests.cli_here import cli_here

pytestmark = pytest.mark.adversarial("options accepted that cannot work")

MISSPELLED = """
import orchbench
from orchbench.strategies.sequential import Sequential


class Mine(Sequential):
    name = "mine"


@orchbench.hookimpl
def orchbench_stratgies():
    return [Mine]
"""

UNSELECTABLE = """
import orchbench
from orchbench.strategies.sequential import Sequential


def named(text):
    return type("Named", (Sequential,), {"name": text})


@orchbench.hookimpl
def orchbench_strategies():
    return [named("fast,slow"), named("two words"), named("-dash"), named("fine-name")]
"""


def test_a_misspelled_hook_is_a_plugin_problem(tmp_path):
    (tmp_path / "typo.py").write_text(MISSPELLED, encoding="utf-8")
    listed = cli_here("list", "--json", "-p", "typo.py")
    assert listed.code == 1, listed
    [problem] = json.loads(listed.out)["problems"]
    assert "unknown hook 'orchbench_stratgies'" in problem["error"] and "orchbench_strategies" in problem["error"]
    ran = cli_here("run", "mine", "-p", "typo.py")  # never registered: one line naming the strategy
    assert ran.code == 2 and "unknown strategy 'mine'" in ran.err
    after = cli_here("list")  # the next command in this process loads no plugin the last one was given
    assert after.code == 0 and "typo" not in after.out + after.err


def test_a_strategy_name_that_cannot_be_selected_is_refused_and_the_others_kept(tmp_path):
    (tmp_path / "names.py").write_text(UNSELECTABLE, encoding="utf-8")
    listed = cli_here("list", "--json", "-p", "names.py")
    assert listed.code == 1, listed
    text = listed.out + listed.err
    for name in ("fast,slow", "two words", "-dash"):
        assert f"strategy {name!r} cannot be selected on the command line" in text, name
    assert "fine-name" in text
    ran = cli_here("run", "fine-name", "-p", "names.py", "-t", "small", "--scenario", "none")
    assert ran.code == 0, ran
