"""Commands that plugins add to the command line (the ``orchbench_commands`` hook): a plugin file's commands and
groups, names already taken, a hook that raises; ``orchbench serve`` is the scoring workload's, its options
generated from ``ServerConfig``."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from tests.cli_here import assert_one_clear_line, cli_here
from tests.helpers import cli

GREETER = '''
from typing import Annotated

import typer

import orchbench

tools = typer.Typer(help="Small tools of this plugin.")


@tools.command("shout")
def shout(word: str) -> None:
    """Print WORD in capitals."""
    typer.echo(word.upper())


def greet(name: Annotated[str, typer.Option(help="Who to greet.")] = "world") -> int:
    """Greet someone."""
    typer.echo(f"hello, {name}")
    return 3  # a command's status is the exit status


def hijack() -> None:
    """Pretend to be orchbench run."""
    typer.echo("hijacked")


@orchbench.hookimpl
def orchbench_commands(app):
    app.command("greet")(greet)
    app.add_typer(tools, name="tools")
    app.command("run")(hijack)
'''

BROKEN = """
import orchbench


@orchbench.hookimpl
def orchbench_commands(app):
    raise RuntimeError("no commands today")
"""


FLAGGED = """
import orchbench


class Tagged(orchbench.Workload):
    name = "tagged"
    cases = {"two": "two items"}
    default_case = "two"
    options = {
        "endpoint": orchbench.Option(str, "nowhere", "where the items are sent", flag="--endpoint"),
        "clash": orchbench.Option(int, 0, "a flag orchbench has already", flag="--seed"),
    }

    def load_input(self):
        return ["a", "b"]

    def prepare(self, raw, stage):
        return list(raw)

    def map_item(self, item):
        return item + "@" + self.options["endpoint"]

    def reduce(self, values):
        return values


@orchbench.hookimpl
def orchbench_workloads():
    return [Tagged]
"""


def _plugin(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_plugin_file_adds_commands_and_groups(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "greeter_commands", GREETER)
    greeted = cli("greet", "--name", "Ada", "-p", plugin)
    assert (greeted.returncode, greeted.stdout) == (3, "hello, Ada\n"), greeted.stderr
    shouted = cli("-p", plugin, "tools", "shout", "quiet")
    assert (shouted.returncode, shouted.stdout) == (0, "QUIET\n"), shouted.stderr
    listed = cli("--help", "-p", plugin)
    assert "greet" in listed.stdout and "Small tools of this plugin." in listed.stdout
    without = cli("greet")  # not loaded: not a command
    assert without.returncode == 2 and "No such command 'greet'" in without.stderr


def test_a_taken_name_and_a_raising_hook_are_reported_and_the_rest_works(tmp_path: Path) -> None:
    greeter = _plugin(tmp_path, "greeter_taken", GREETER)
    broken = _plugin(tmp_path, "broken_commands", BROKEN)
    listed = cli("list", "--json", "-p", greeter, "-p", broken)
    assert listed.returncode == 1  # problems make `list` fail, so CI notices
    problems = {p["plugin"]: p["error"] for p in json.loads(listed.stdout)["problems"]}
    assert problems == {
        "greeter_taken": "command 'run' is already supplied by orchbench; skipped",
        "broken_commands": "orchbench_commands() raised RuntimeError: no commands today",
    }
    ran = cli("run", "sequential", "--scenario", "none", "--json", "-p", greeter, "-p", broken)
    assert ran.returncode == 0 and json.loads(ran.stdout)["correct"] is True  # orchbench's own run, not the plugin's
    assert "hijacked" not in ran.stdout
    assert cli("greet", "-p", greeter, "-p", broken).stdout == "hello, world\n"


def test_serve_is_added_by_the_scoring_workload_with_one_option_per_server_setting() -> None:
    import typer

    from orchbench.cli.app import build_app
    from orchbench.harness.plugins import get_registry
    from orchbench.workloads.scoring.model import ServerConfig

    serve = typer.main.get_command(build_app(get_registry())).commands["serve"]
    generated = {p.name: p for p in serve.params if p.name not in ("host", "port", "scenario", "help")}
    assert sorted(generated) == sorted(f.name for f in fields(ServerConfig))
    for f in fields(ServerConfig):
        assert generated[f.name].opts == ["--" + f.name.replace("_", "-")]
        assert f.metadata["help"].rstrip(".") in generated[f.name].help
    assert "serve" not in typer.main.get_command(build_app()).commands  # not one of orchbench's own commands


def test_a_serve_option_reaches_the_server_config() -> None:
    assert_one_clear_line(cli_here("serve", "--port", "0", "--max-body", "100"), "--max-body must be at least 1024")
    assert_one_clear_line(cli_here("serve", "--port", "0", "--rate-503", "2"), "--rate-503 must be between 0 and 1")
    assert_one_clear_line(cli_here("serve", "--port", "0", "--capacity", "1.5"), "--capacity", "valid integer")


def test_a_workload_flag_of_a_plugin_reaches_its_option_and_no_other_workload(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "tagged_workload", FLAGGED)
    ran = cli("run", "sequential", "-w", "tagged", "--endpoint", "there", "--json", "-p", plugin)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["output"] == ["a@there", "b@there"] and result["spec"]["workload_options"] == {"endpoint": "there"}
    assert "--endpoint" in cli("compare", "--help", "-p", plugin).stdout  # every command that takes --workload
    refused = cli("run", "sequential", "--endpoint", "there", "-p", plugin)  # the default workload has no such flag
    assert refused.returncode == 2 and refused.stderr.strip().endswith("takes no --endpoint")
    problems = json.loads(cli("list", "--json", "-p", plugin).stdout)["problems"]
    assert [p["error"] for p in problems] == [
        "workload 'tagged': flag --seed is an option of orchbench's own; left out"
    ]
