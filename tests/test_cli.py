"""The command line as a user meets it: real subprocesses, one clear line for every bad input."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli


def _one_clear_line(proc, *fragments: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_version():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("orchbench ")


def test_list_json_names_builtins_with_their_distribution():
    proc = cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    names = {(row["kind"], row["name"]): row for row in data["items"]}
    assert names["strategy", "sequential"]["distribution"] == "orchbench"
    assert ("workload", "anagrams") in names and ("retry policy", "exponential") in names
    assert ("preset", "naive") in names
    assert data["problems"] == []


def test_run_json_is_correct_against_the_reference():
    proc = cli("run", "sequential", "--test-case", "medium", "--scenario", "fast", "--seed", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["correct"] is True and result["complete"] is True
    assert result["items"] == result["succeeded"] > 0
    assert result["peak_rss"] > 0 and result["cpu_s"] > 0
    assert result["output"] and all(n >= 1 for n in result["output"].values())


def test_naive_preset_reports_failures_and_exits_non_zero():
    proc = cli("run", "naive", "--test-case", "medium", "--scenario", "fast", "--fault-rate", "0.9", "--json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["correct"] is False and result["output"] is None


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["run", "sequentail"], ["unknown strategy 'sequentail'", "did you mean 'sequential'"]),
        (["run", "sequential", "--workload", "anagram"], ["unknown workload 'anagram'", "did you mean 'anagrams'"]),
        (["run", "sequential", "--retry", "exponentail"], ["unknown retry policy", "did you mean 'exponential'"]),
        (["run", "sequential", "--test-case", "larg"], ["no test case 'larg'", "did you mean 'large'"]),
        (["run", "sequential", "--scenario", "sed"], ["no scenario 'sed'"]),
        (["run", "sequential", "--fault-rate", "-0.1"], ["--fault-rate", "below its minimum 0"]),
        (["run", "sequential", "--fault-rate", "1.5"], ["--fault-rate", "above its maximum 1"]),
        (["run", "sequential", "--set", "retry.max_attempts=0"], ["max_attempts", "below its minimum"]),
        (
            ["run", "sequential", "--set", "wrokers=3"],
            ["no strategy, workload or retry policy here has option 'wrokers'"],
        ),
        (["run", "sequential", "--set", "novalue"], ["expected KEY=VALUE"]),
        (["run", "sequential", "--hang-rate", "0.1", "--retry", "none"], ["hang faults need a per-attempt timeout"]),
        (["run", "sequential", "--input", "missing.txt"], ["missing.txt: no such file"]),
        (
            ["profile", "--memory", "--strategies", "threads", "sequential,threads"],
            ["strategy 'threads' is given twice"],
        ),
        (["sweep", "--over", "concurrency=1,2", "--strategies", "asyncio,asyncio"], ["'asyncio' is given twice"]),
        (["compare", "--strategies", ","], ["--strategies: no strategy named"]),
    ],
)
def test_bad_input_gets_one_clear_line(args, fragments):
    _one_clear_line(cli(*args), *fragments)


def test_bad_files_get_one_clear_line(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "punct.txt").write_text("!!! ... ???")
    locked = tmp_path / "locked.txt"
    locked.write_text("cat")
    locked.chmod(0)
    cases = {
        "empty.txt": "is empty",
        "latin1.txt": "not UTF-8",
        "binary.bin": "looks binary",
        "punct.txt": "has no words",
        str(tmp_path): "is a directory",
    }
    for name, fragment in cases.items():
        _one_clear_line(cli("run", "sequential", "--input", str(tmp_path / name), "--scenario", "none"), fragment)
    proc = cli("run", "sequential", "--input", str(locked), "--scenario", "none")
    if proc.returncode != 0:  # root can read any file; everyone else gets the error
        _one_clear_line(proc, "cannot read")


def test_input_from_stdin():
    proc = cli("run", "sequential", "--input", "-", "--scenario", "none", "--json", input="cat act")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == {"act": 2, "cat": 2, "tac": 2}


@pytest.mark.parametrize("args", [[], ["reference"]], ids=["orchbench", "a-group"])
def test_a_bare_command_shows_its_help(args):
    proc = cli(*args)
    assert proc.returncode == 2
    assert f"Usage: {' '.join(['orchbench', *args])} [OPTIONS] COMMAND" in proc.stdout
    assert "error" not in proc.stderr


@pytest.mark.parametrize("debug", [["--debug"], []], ids=["debug", "plain"])
@pytest.mark.parametrize("first", [True, False], ids=["before-the-command", "after-it"])
def test_debug_before_or_after_the_command_shows_the_traceback(debug, first):
    args = ["run", "nope"]
    proc = cli(*(debug + args if first else args + debug))
    if debug:
        assert proc.returncode != 0 and "Traceback" in proc.stderr and "UsageError" in proc.stderr
    else:
        _one_clear_line(proc, "unknown strategy 'nope'")


BOOM = """
import orchbench
from orchbench.strategies.sequential import Sequential


class Boom(Sequential):
    name = "boom"

    def map(self, task, items):
        raise RuntimeError("kaboom")


@orchbench.hookimpl
def orchbench_strategies():
    return [Boom]
"""


@pytest.mark.parametrize("debug", [True, False])
def test_debug_after_the_command_reaches_the_runs_child_process(tmp_path, debug):
    plugin = tmp_path / "boom.py"
    plugin.write_text(BOOM)
    proc = cli("run", "boom", "-p", str(plugin), "--test-case", "small", "--scenario", "none", *["--debug"] * debug)
    assert proc.returncode == 1 and "kaboom" in proc.stdout + proc.stderr
    assert ("Traceback" in proc.stderr) is debug  # the child prints the strategy's traceback only with --debug


def test_strategy_names_read_every_spelling_in_order():
    from orchbench.harness.plugins import get_registry
    from orchbench.harness.specs import strategy_names

    assert strategy_names(["sequential,naive", " threads "]) == ["sequential", "naive", "threads"]
    assert strategy_names(None) == strategy_names([]) == get_registry().names("strategy")
