"""Plugins that are not installed: a file or module given with -p/--plugin, an ORCHBENCH_PLUGINS path, a project's
[tool.orchbench]; their workloads and strategies run in worker processes too; agreement names a broken strategy."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.helpers import cli

PIPELINE = '''
import dataclasses

import orchbench


@dataclasses.dataclass(frozen=True)
class Word:  # an item class of this file: process pools must unpickle it
    text: str


def words(source):
    return [Word(w) for w in open(source, encoding="utf-8").read().split()]


@orchbench.workload("word-sizes", items=words, reduce=list, cases={{"tiny": {tiny!r}}})
def size(word):
    return len(word.text)


class OffByOne(orchbench.Strategy):
    """Deliberately broken: the third item's value is one too many."""

    name = "off-by-one"

    def map(self, task, items):
        outcomes = [task.run(i, item) for i, item in enumerate(items)]
        if len(outcomes) > 2:
            outcomes[2].value += 1
        return outcomes


@orchbench.hookimpl
def orchbench_workloads():
    return [size]


@orchbench.hookimpl
def orchbench_strategies():
    return [OffByOne]
'''
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa"


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    tiny = tmp_path / "tiny.txt"
    tiny.write_text(WORDS, encoding="utf-8")
    path = tmp_path / "word_pipeline.py"
    path.write_text(PIPELINE.format(tiny=str(tiny)), encoding="utf-8")
    return path


@pytest.mark.parametrize("strategy", ["processes", "hybrid"])
def test_a_plugin_file_runs_in_worker_processes(plugin: Path, strategy: str):
    proc = cli("run", strategy, "-p", str(plugin), "-w", "word-sizes", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    expected = [len(w) for w in WORDS.split()]
    assert result["complete"] and result["output"] == expected and result["correct"] is None  # no reference
    assert result["spec"]["plugins"] == [str(plugin)]


@pytest.mark.ray
def test_a_plugin_file_runs_on_ray(plugin: Path, ray_cluster: str):
    proc = cli(
        "run",
        "ray",
        "--plugin",
        str(plugin),
        "-w",
        "word-sizes",
        "--set",
        f"address={ray_cluster}",
        "--json",
        timeout=300,
        env={"ORCHBENCH_PLUGINS": "orchbench-ray"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == [len(w) for w in WORDS.split()]


def test_list_shows_the_file_and_a_broken_file_is_reported_like_an_entry_point(plugin: Path, tmp_path: Path):
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("import no_such_module_here\n", encoding="utf-8")
    proc = cli("list", "--json", "-p", str(plugin), f"--plugin={broken}")
    data = json.loads(proc.stdout)
    rows = {row["name"]: row for row in data["items"]}
    assert rows["word-sizes"]["origin"] == str(plugin) and rows["off-by-one"]["origin"] == str(plugin)
    assert [p["plugin"] for p in data["problems"]] == ["broken_plugin"] and proc.returncode == 1
    assert "ModuleNotFoundError" in data["problems"][0]["error"]
    ran = cli("run", "sequential", "-p", str(plugin), "-p", str(broken), "-w", "word-sizes")
    assert ran.returncode == 0 and "broken_plugin" in ran.stderr  # a warning; the other plugins work


def test_a_missing_plugin_file_is_one_line():
    proc = cli("list", "-p", "no_such_pipeline.py")
    assert (
        proc.returncode == 2 and proc.stderr.strip() == "orchbench: error: --plugin no_such_pipeline.py: no such file"
    )


def test_orchbench_plugins_entries_that_are_paths_are_loaded(plugin: Path):
    proc = cli("run", "sequential", "-w", "word-sizes", env={"ORCHBENCH_PLUGINS": str(plugin)})
    assert proc.returncode == 0, proc.stderr


def test_compare_names_the_strategy_that_disagrees_and_never_lets_it_win(plugin: Path, tmp_path: Path):
    saved = tmp_path / "c.json"
    proc = cli(
        "compare",
        "-p",
        str(plugin),
        "-w",
        "word-sizes",
        "-s",
        "sequential",
        "threads",
        "off-by-one",
        "-n",
        "2",
        "--warmup",
        "0",
        "-q",
        "-o",
        str(saved),
        "-f",
        "json",
    )
    assert proc.returncode == 1, proc.stderr  # a strategy with no run that is not wrong fails the comparison
    assert "orchbench: off-by-one: no successful run" in proc.stderr
    report = json.loads(proc.stdout)
    winner = [r["strategy"] for r in report["results"] if r["winner"]]
    assert winner and winner != ["off-by-one"]
    notes = " ".join(report["notes"])
    third = len(WORDS.split()[2])
    assert f"off-by-one disagrees with sequential: 1 value differ ([2]: {third} expected, {third + 1} actual)" in notes
    agreement = json.loads(saved.read_text())["settings"]["agreement"]
    assert agreement["consensus"] == ["sequential", "threads"]


def test_a_projects_pyproject_names_plugins_and_defaults(plugin: Path, tmp_path: Path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [project]
        name = "my-project"

        [tool.orchbench]
        plugins = ["{plugin.name}"]
        workload = "word-sizes"
        strategies = ["sequential", "off-by-one"]
    """),
        encoding="utf-8",
    )
    (project / plugin.name).write_text(plugin.read_text(), encoding="utf-8")
    selected = {"ORCHBENCH_PLUGINS": plugin.stem}  # the suite's empty value would load no project plugin
    run = cli("run", "sequential", "--json", cwd=project / "src", env=selected)  # found from a subdirectory upwards
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["spec"]["workload"] == "word-sizes"
    (project / "pyproject.toml").write_text('[tool.orchbench]\nwokload = "x"\n', encoding="utf-8")
    bad = cli("list", cwd=project)
    assert bad.returncode == 2 and "'wokload'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_recorded_reference_checks_a_pipeline_of_ones_own(plugin: Path, tmp_path: Path):
    ref = tmp_path / "ref.json"
    recorded = cli("reference", "record", "-p", str(plugin), "-w", "word-sizes", "-o", str(ref))
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(ref.read_text())["output"] == [len(w) for w in WORDS.split()]
    broken = cli("run", "off-by-one", "-p", str(plugin), "-w", "word-sizes", "--reference", str(ref), "--json")
    result = json.loads(broken.stdout)
    assert broken.returncode == 1 and result["correct"] is False
    assert result["mismatch"]["against"] == "recorded reference" and result["mismatch"]["count"] == 1


def test_a_file_that_implements_no_hook_is_a_problem_naming_what_it_left_unreturned(tmp_path: Path):
    forgot = tmp_path / "forgot_the_hook.py"
    forgot.write_text(
        "import orchbench\n\n"
        "@orchbench.workload('lengths', items=str.split, cases={'one': 'a bb'})\n"
        "def length(word):\n"
        "    return len(word)\n",
        encoding="utf-8",
    )
    listed = cli("list", "--json", "-p", str(forgot))
    problems = json.loads(listed.stdout)["problems"]
    assert [p["plugin"] for p in problems] == ["forgot_the_hook"] and listed.returncode == 1
    assert "no orchbench hook" in problems[0]["error"] and "workload 'lengths'" in problems[0]["error"]
    ran = cli("run", "sequential", "-p", str(forgot), "-w", "lengths")
    assert ran.returncode == 2 and "workload 'lengths' must be returned from a hook" in ran.stderr
