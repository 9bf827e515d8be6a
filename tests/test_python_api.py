"""orchbench.run / orchbench.compare: the Python API the CLI is built on (each run in a fresh process)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import orchbench
from orchbench.errors import UsageError
from orchbench.harness.planner import plan
from orchbench.results.document import make_document
from orchbench.types import RunResult, RunSpec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def my_pipeline():
    module = sys.modules.get("my_pipeline") or _import_file(EXAMPLES / "my_pipeline.py", "my_pipeline")
    yield module


@pytest.fixture
def lines_file(tmp_path) -> Path:
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(f"line number {i}" for i in range(12)) + "\n", encoding="utf-8")
    return path


def test_compare_a_decorated_function_in_fresh_processes(my_pipeline, lines_file, tmp_path):
    comparison = orchbench.compare(
        my_pipeline.measure, ["sequential", "asyncio"], iterations=4, warmup=0, input=lines_file
    )
    assert isinstance(comparison, orchbench.Comparison)
    assert comparison.ok and comparison.failed == {}
    assert sorted(comparison.correct) == ["asyncio", "sequential"]
    assert {row.strategy for row in comparison.rows} == {"sequential", "asyncio"}
    assert all(row.runs == 4 and row.correct_runs == 4 for row in comparison.rows)
    assert comparison.winner in (None, comparison.fastest)
    document = comparison.to_dict()
    assert document["settings"]["workload"] == "line-lengths"
    assert len(document["runs"]) == 2 * 4
    saved = comparison.save(tmp_path / "out.json")
    again = orchbench.Comparison.load(saved)
    assert again.to_dict()["runs"] == json.loads(saved.read_text())["runs"]
    assert [r.strategy for r in again.rows] == [r.strategy for r in comparison.rows]


def test_a_function_whose_module_does_not_register_it(tmp_path, lines_file):
    source = tmp_path / "unregistered_pipeline.py"
    source.write_text(
        textwrap.dedent(
            """
            import orchbench

            @orchbench.workload("doubled", items=lambda p: open(p, encoding="utf-8").read().split(), reduce=sum,
                                reference=lambda items: 2 * len(items))
            def double(word):
                return 2
            """
        ),
        encoding="utf-8",
    )
    module = _import_file(source, "unregistered_pipeline")
    result = orchbench.run("threads", module.double, input=lines_file)
    assert result.ok and result.correct is True
    assert result.spec["workload"] == "doubled" and result.spec["input_path"] == str(lines_file)


def test_run_a_named_workload_with_options():
    result = orchbench.run("sequential", "anagrams", case="small", scenario="none", set={"retry.max_attempts": 2})
    assert isinstance(result, RunResult)
    assert result.ok and result.correct is True
    assert result.spec["retry_options"] == {"max_attempts": 2}
    assert result.elapsed_s is not None and result.elapsed_s > 0


def test_a_preset_run_keeps_its_name():
    result = orchbench.run("naive", "anagrams", case="small", scenario="none")
    assert result.name == "naive" and result.spec["strategy"] == "sequential"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: orchbench.run("sequential", "anagrams", casee="small"), "unknown option 'casee'"),
        (lambda: orchbench.run("nope", "anagrams"), "unknown strategy 'nope'"),
        (lambda: orchbench.compare("anagrams", ["sequential"], iterations=0), "iterations"),
        (lambda: orchbench.run("sequential", "anagrams", set=["workers=2"]), "set= takes a mapping"),
        (lambda: orchbench.run("sequential", "anagrams", fault_rate=2), "--fault-rate"),
        (lambda: orchbench.run("sequential", RunSpec), "is not a workload"),
    ],
)
def test_bad_calls_raise_one_usage_error(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_a_workload_from_the_prompt_is_refused_with_the_reason():
    namespace: dict = {"__name__": "__main__"}
    main = sys.modules["__main__"]
    had_file = hasattr(main, "__file__")
    saved = getattr(main, "__file__", None)
    try:
        if had_file:
            del main.__file__  # as in a notebook or the interactive prompt
        exec("import orchbench\n@orchbench.workload('inline', items=list)\ndef f(x):\n    return x\n", namespace)
        with pytest.raises(UsageError, match="notebook or at the prompt"):
            orchbench.run("sequential", namespace["f"], input="x")
    finally:
        if had_file:
            main.__file__ = saved


# --- winner, correct and failed, from documents built here -------------------------------------------------------


def _document(walls: dict[str, list[float]], wrong: dict[str, RunResult] | None = None) -> dict:
    order = plan(list(walls), iterations=len(next(iter(walls.values()))), warmup=0)
    pairs = []
    for slot in order:
        spec = RunSpec(strategy=slot.strategy, case="small", scenario="none").to_dict()
        result = RunResult(spec=spec, items=3, succeeded=3, complete=True, correct=True)
        if wrong and slot.strategy in wrong and slot.round == 2:
            result = wrong[slot.strategy]
            result.spec = spec
        result.wall_s = walls[slot.strategy][slot.round - 1]
        pairs.append((slot, result))
    settings = {"workload": "anagrams", "case": "small", "scenario": "none", "baseline": next(iter(walls))}
    return make_document(settings, order, pairs, env={"cpu_model": "Test CPU", "cpu_count": 2})


def test_the_winner_is_named_only_when_significantly_fastest():
    clear = orchbench.Comparison(_document({"a": [2.0, 2.1, 2.2, 2.3, 2.4], "b": [1.0, 1.1, 1.2, 1.3, 1.4]}))
    assert clear.winner == "b" and clear.fastest == "b"
    overlapping = orchbench.Comparison(_document({"a": [1.0, 1.3, 1.1, 1.4, 1.2], "b": [1.05, 1.25, 1.15, 1.0, 1.1]}))
    assert overlapping.fastest == "b" and overlapping.winner is None


def test_a_fast_wrong_strategy_is_failed_with_its_first_error_and_never_the_winner():
    wrong = {
        "b": RunResult(spec={}, items=3, succeeded=3, complete=True, correct=False, output_digest="x1"),
        "c": RunResult(
            spec={}, items=3, succeeded=2, failed=1, failures=[{"item": "cat", "positions": 1, "error": "Boom"}]
        ),
    }
    comparison = orchbench.Comparison(
        _document({"a": [2.0, 2.1, 2.2, 2.3], "b": [1.0, 1.1, 1.2, 1.3], "c": [0.5] * 4}, wrong)
    )
    assert comparison.correct == ["a"]
    assert set(comparison.failed) == {"b", "c"}
    assert comparison.failed["b"].startswith("wrong output")
    assert comparison.failed["c"] == "incomplete: 1 of 3 items failed; first: 'cat': Boom"
    assert comparison.winner == "a" and not comparison.ok


def test_a_strategy_is_unsuccessful_only_when_none_of_its_runs_was_right(capsys):
    wrong = RunResult(spec={}, items=3, succeeded=3, complete=True, correct=False, output_digest="x1")
    comparison = orchbench.Comparison(_document({"a": [2.0, 2.1, 2.2], "b": [1.0, 1.1, 1.2]}, {"b": wrong}))
    assert set(comparison.failed) == {"b"} and comparison.unsuccessful == []  # b's rounds 1 and 3 were right
    assert list(comparison.runs) == ["a", "b"] and [len(runs) for runs in comparison.runs.values()] == [3, 3]
    comparison.render(wide=True)
    table = capsys.readouterr().out
    assert "a" in table and "b" in table and "speed-up" in table.lower()

    document = _document({"a": [2.0, 2.1, 2.2], "b": [1.0, 1.1, 1.2], "c": [0.5] * 3})
    for record in document["runs"]:
        record["correct"] = record["correct"] and record["spec"]["strategy"] != "b"  # every run of b wrong
    document["runs"] = [r for r in document["runs"] if r["spec"]["strategy"] != "c"]  # no run of c finished
    assert orchbench.Comparison(document).unsuccessful == ["b", "c"]


def test_importing_the_api_does_not_import_pytest():
    code = (
        "import sys, orchbench\n"
        "orchbench.compare, orchbench.run, orchbench.Comparison\n"
        "import orchbench.cli.compare, orchbench.harness.session\n"
        "assert 'pytest' not in sys.modules, 'pytest imported'\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
