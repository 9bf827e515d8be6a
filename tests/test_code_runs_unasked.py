"""Code runs only when a command needs it: a project's plugins load only for commands that run or list workloads;
children never import from the working directory; a plugin file cannot stand in for a standard-library module; a
plugin that exits while it loads is a plugin problem like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.adversarial("code runs unasked")

SCRIPT = Path(sys.executable).with_name("orchbench")  # the console script, as a user types it


def orchbench(*args: str, cwd: Path, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """``orchbench ARGS`` in ``cwd``; ``env`` entries set to None are removed (ORCHBENCH_PLUGINS, for one)."""
    environ = {**os.environ, "ORCHBENCH_PLUGINS": None, **(env or {})}
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-P", "-m", "orchbench"]
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in environ.items() if v is not None},
    )


MARKING_PLUGIN = """
import pathlib

import orchbench

pathlib.Path({marker!r}).write_text("ran")


@orchbench.hookimpl
def orchbench_workloads():  # a plugin implements a hook: one that implements none is a problem of list
    return []
"""

TINY_WORKLOAD = """
import orchbench


@orchbench.workload("tiny", items=lambda source: [1, 2, 3], reduce=sum, reference=lambda items: 6,
                    cases={"small": "-"})
def double(item):
    return item


@orchbench.hookimpl
def orchbench_workloads():
    return [double]
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose pyproject.toml names a plugin that leaves a marker when imported; (its subdirectory,
    the marker)."""
    marker = tmp_path / "plugin-ran"
    (tmp_path / "pyproject.toml").write_text('[tool.orchbench]\nplugins = ["theirs.py"]\n', encoding="utf-8")
    (tmp_path / "theirs.py").write_text(MARKING_PLUGIN.format(marker=str(marker)), encoding="utf-8")
    (tmp_path / "src").mkdir()
    return tmp_path / "src", marker


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("run", "--help"), ("compare", "--help"), ("report", "missing.json"), ()],
    ids=["version", "help", "run-help", "compare-help", "report", "bare"],
)
def test_a_project_plugin_is_not_imported_by_commands_that_run_no_workload(project, args):
    cwd, marker = project
    done = orchbench(*args, cwd=cwd)
    assert not marker.exists(), f"orchbench {' '.join(args)} imported the project's plugin"
    assert "Traceback" not in done.stderr


def test_a_project_plugin_loads_for_list_and_the_file_is_named(project):
    cwd, marker = project
    done = orchbench("list", cwd=cwd)
    assert marker.exists()
    assert f"project: {cwd.parent / 'pyproject.toml'} (plugins: theirs.py)" in done.stderr


@pytest.mark.parametrize(
    "how",
    [{"args": ("--no-project",)}, {"env": {"ORCHBENCH_NO_PROJECT": "1"}}, {"env": {"ORCHBENCH_PLUGINS": ""}}],
    ids=["--no-project", "ORCHBENCH_NO_PROJECT=1", "ORCHBENCH_PLUGINS-empty"],
)
def test_the_project_file_can_be_ignored(project, how):
    cwd, marker = project
    done = orchbench("list", *how.get("args", ()), cwd=cwd, env=how.get("env"))
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_orchbench_plugins_names_the_project_plugins_to_load(project):
    cwd, marker = project
    assert orchbench("list", cwd=cwd, env={"ORCHBENCH_PLUGINS": "theirs"}).returncode == 0
    assert marker.exists()


@pytest.mark.parametrize(
    "table",
    ["[tool.orchbench\n", "[tool]\norchbench = 3\n", '[tool.orchbench]\nplugins = "x.py"\nwokload = "x"\n'],
    ids=["not-toml", "not-a-table", "bad-keys"],
)
def test_a_broken_project_file_does_not_break_version_help_or_report(tmp_path, table):
    (tmp_path / "pyproject.toml").write_text(table, encoding="utf-8")
    fixture = Path(__file__).parent / "fixtures" / "comparison-v1-80e9a0c.json"
    assert orchbench("--version", cwd=tmp_path).stdout.startswith("orchbench ")
    assert orchbench("--help", cwd=tmp_path).returncode == 0
    report = orchbench("report", str(fixture), cwd=tmp_path)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    listed = orchbench("list", cwd=tmp_path)  # a command that needs the project says what is wrong with it
    assert listed.returncode == 2 and len(listed.stderr.strip().splitlines()) == 1


def test_the_project_file_is_saved_with_the_results(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.orchbench]\nplugins = ["tiny.py"]\nworkload = "tiny"\n', encoding="utf-8"
    )
    (tmp_path / "tiny.py").write_text(TINY_WORKLOAD, encoding="utf-8")
    done = orchbench("compare", "-s", "sequential", "-n", "1", "--warmup", "0", "-o", "r.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["environment"]["project"] == str(tmp_path / "pyproject.toml")


SHADOW = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")
raise ImportError("the working directory's {name} was imported")
"""


@pytest.mark.parametrize("strategy", ["sequential", "processes"])
def test_children_never_import_from_the_working_directory(tmp_path, strategy):
    for name in ("json", "tenacity"):
        (tmp_path / f"{name}.py").write_text(
            SHADOW.format(marker=str(tmp_path / f"{name}-imported"), name=name), encoding="utf-8"
        )
    sizing = ["--set", "workers=2"] if strategy == "processes" else []
    done = orchbench("run", strategy, "-t", "small", "--scenario", "none", *sizing, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["correct"] is True
    assert not list(tmp_path.glob("*-imported"))


def test_python_m_orchbench_drops_the_working_directory_too(tmp_path):
    (tmp_path / "tenacity.py").write_text(
        SHADOW.format(marker=str(tmp_path / "tenacity-imported"), name="tenacity"), encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "orchbench", "run", "sequential", "-t", "small", "--scenario", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "tenacity-imported").exists()


def test_a_plugin_file_named_like_a_standard_module_does_not_shadow_it(tmp_path):
    for name in ("statistics", "random"):
        (tmp_path / f"{name}.py").write_text(TINY_WORKLOAD.replace('"tiny"', f'"tiny-{name}"'), encoding="utf-8")
    done = orchbench(
        "compare",
        "-p",
        "statistics.py",
        "-p",
        "random.py",
        "-w",
        "tiny-statistics",
        "-s",
        "sequential,threads",
        "-n",
        "2",
        "--warmup",
        "0",
        "-o",
        "r.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    listed = orchbench("list", "-p", "statistics.py", "-p", "random.py", cwd=tmp_path)
    assert listed.returncode == 0 and "tiny-random" in listed.stdout, listed.stderr


@pytest.mark.parametrize(
    "body, shown",
    [
        ("import sys\nsys.exit(0)\n", "sys.exit(0)"),
        ("raise SystemExit('bye')\n", "sys.exit('bye')"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    ],
    ids=["exit-0", "exit-text", "keyboard-interrupt"],
)
def test_a_plugin_that_exits_while_loading_is_a_plugin_problem(tmp_path, body, shown):
    (tmp_path / "bye.py").write_text(body, encoding="utf-8")
    listed = orchbench("list", "-p", "bye.py", cwd=tmp_path)
    assert listed.returncode == 1 and "sequential" in listed.stdout  # reported, the others still listed
    assert shown in listed.stdout.replace("\n", " ") + listed.stderr
    compared = orchbench("compare", "-p", "bye.py", "-w", "bye-workload", "-n", "1", cwd=tmp_path)
    assert compared.returncode == 2 and "bye-workload" in compared.stderr, compared.stderr
    assert "Traceback" not in compared.stderr


def test_a_child_gets_the_parents_path_never_its_working_directory(tmp_path, monkeypatch):
    from orchbench.harness import interpreter

    mine, elsewhere = tmp_path / "on-my-path", tmp_path / "cwd"
    mine.mkdir()
    elsewhere.mkdir()
    stdlib = os.path.dirname(os.__file__)
    monkeypatch.setattr(sys, "path", ["", str(mine), *sys.path])
    env = interpreter.environment({**os.environ, "PYTHONPATH": "/given/first"})
    entries = env["PYTHONPATH"].split(os.pathsep)
    assert entries[0] == "/given/first" and str(mine) in entries
    assert "" not in entries and stdlib not in entries  # the interpreter's own directories are its own business
    shown = subprocess.run(
        interpreter.command("-c", "import json, sys; print(json.dumps(sys.path))"),
        env=env,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    path = json.loads(shown.stdout)
    assert str(mine) in path and str(elsewhere) not in path and "" not in path
