"""The cheap commands import only what they need: ``orchbench list`` and every ``--help`` load the plugins and build
the command line, and nothing that only converting option values, running, measuring or reporting needs (what
makes them quick to start)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "pydantic",  # typer's conversion of an option's value: none is given to these commands
    "asyncio",  # the strategies' and workloads' event loops: listing them runs none
    "multiprocessing",  # the process pools
    "tenacity",  # the retry policies' waits
    "orchbench.python_api",  # what runs and measures (sweep, benchmark)
    "aiohttp",
    "numpy",
    "scipy",
    "matplotlib",
    "memray",
    "ray",
)
# The help texts first: they render no table, so they import no rich either (list, run after them, does).
HELP = [["--help"], ["list", "--help"], ["run", "--help"], ["compare", "--help"]]
CHEAP = [*HELP, ["list"], ["list", "--json"]]

# Runs each command line in turn in one interpreter; after each, which of the modules named are imported so far.
PROBE = """
import contextlib, io, json, sys
before = set(sys.modules)  # what the interpreter loaded on its own (a coverage hook imports multiprocessing)
from orchbench.cli.app import main
commands, heavy = json.loads(sys.argv[1])
for args in commands:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    seen = [m for m in heavy if m in sys.modules and m not in before]
    print(json.dumps({"args": args, "status": status, "out": out.getvalue(), "err": err.getvalue(), "heavy": seen}))
"""


def run_in_one_process(commands: list[list[str]], cwd: Path) -> list[dict]:
    """Run each ``orchbench ARGS`` of ``commands`` in one fresh interpreter (in ``cwd``, with the installed plugins
    only): for each, its status, output, and which of HEAVY (and rich) orchbench had imported by then."""
    env = {k: v for k, v in os.environ.items() if k not in ("ORCHBENCH_PLUGINS", "ORCHBENCH_NO_PROJECT")}
    ran = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([commands, [*HEAVY, "rich"]])],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in ran.stdout.splitlines()]


def test_list_and_help_import_nothing_heavy(tmp_path):
    results = run_in_one_process(CHEAP, tmp_path)
    assert [r["args"] for r in results] == CHEAP
    for found in results:
        assert found["status"] == 0, found
        assert found["out"], found  # the command did its work: a listing or a help text
        allowed = [] if found["args"] in HELP else ["rich"]
        unneeded = [m for m in found["heavy"] if m not in allowed]
        assert unneeded == [], f"orchbench {' '.join(found['args'])} imported {unneeded}"


def test_a_value_given_is_still_converted_and_checked(tmp_path):
    """What the cheap commands skip, for options not given, still happens for an option that is: its value is
    converted, and refused in one line when it does not convert (before anything runs)."""
    wrong = {
        "Invalid value for '--format' / '-f'": ["report", "--format", "nonsense", "results.json"],
        "Invalid value for '--iterations' / '-n'": ["compare", "-s", "nosuch", "--iterations", "many"],
    }
    for message, found in zip(wrong, run_in_one_process(list(wrong.values()), tmp_path), strict=True):
        assert found["status"] == 2, found
        assert message in found["err"], found


def test_only_the_invoked_command_is_built_and_help_lists_without_building():
    """typer's building of a command (its options, their types, its help) is put off until the command is looked
    up: running ``list`` builds ``list`` alone, while every command is registered (a plugin's clashing command or
    flag is still found); ``--help`` lists every command from its name and help text, building none."""
    from orchbench.cli.app import build_app
    from orchbench.cli.built_on_use import click_group
    from orchbench.harness.plugins import get_registry

    group = click_group(build_app(get_registry()))
    names = list(group.commands)
    assert {"list", "run", "compare", "benchmark", "check", "serve", "reference"} <= set(names)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        group.main(["--help"], prog_name="orchbench", standalone_mode=False)
    assert group.commands.built() == ["reference"]  # command groups are built with the group, as typer does
    listed = [line.split()[0] for line in out.getvalue().split("Commands:")[1].splitlines() if line[2:3].strip()]
    assert listed == names  # in registration order, as typer lists them
    with contextlib.redirect_stdout(io.StringIO()):
        group.main(["list", "--json"], prog_name="orchbench", standalone_mode=False)
    assert group.commands.built() == ["list", "reference"]


def test_help_lists_each_command_as_its_own_help_shows_it():
    """The stand-in --help lists a command by (its name and help text, as typer derives them) says what the built
    command would: the same summary, the same hidden or not."""
    from orchbench.cli.app import build_app
    from orchbench.cli.built_on_use import click_group
    from orchbench.harness.plugins import get_registry

    commands = click_group(build_app(get_registry())).commands
    for name in list(commands):
        listed = commands.for_listing(name)
        built = commands[name]
        assert listed.get_short_help_str(limit=10_000) == built.get_short_help_str(limit=10_000), name
        assert (listed.hidden, listed.deprecated) == (built.hidden, built.deprecated), name
