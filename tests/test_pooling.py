"""report never pools runs of another interpreter, build, commit, dirty state or orchbench version into one row."""

from __future__ import annotations

import copy

import pytest

from orchbench.harness.planner import plan
from orchbench.results.document import make_document
from orchbench.results.figures import build_report
from orchbench.types import RunResult, RunSpec


def _document(walls: list[float], **env) -> dict:
    order = plan(["asyncio"], iterations=len(walls), warmup=0)
    pairs = []
    for slot in order:
        spec = RunSpec(strategy="asyncio", case="small", scenario="none").to_dict()
        result = RunResult(spec=spec, items=3, succeeded=3, complete=True, correct=True, wall_s=walls[slot.round - 1])
        pairs.append((slot, result))
    environment = {
        "cpu_model": "Test CPU",
        "cpu_count": 2,
        "python": "3.12.1",
        "implementation": "CPython",
        "python_build": "gil",
        "python_debug": False,
        "git_commit": "a" * 40,
        "git_dirty": False,
        "packages": {"orchbench": "0.1.0"},
        **env,
    }
    settings = {"workload": "anagrams", "case": "small", "scenario": "none", "baseline": "asyncio"}
    return make_document(settings, order, pairs, env=environment)


def test_alike_runs_are_pooled():
    report = build_report([_document([1.0, 1.1, 1.2]), _document([1.3, 1.4, 1.5])])
    assert [(row.strategy, row.runs) for row in report.rows] == [("asyncio", 6)]


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        ({"python": "3.13.0"}, "py 3.13.0"),
        ({"python_build": "free-threaded"}, "py 3.12.1t"),
        ({"git_commit": "b" * 40}, "bbbbbbb"),
        ({"git_dirty": True}, "aaaaaaa dirty"),
        ({"packages": {"orchbench": "0.2.0"}}, "orchbench 0.2.0"),
    ],
)
def test_runs_that_differ_are_separate_rows_labelled_by_the_difference(env, shown):
    report = build_report([_document([1.0, 1.1, 1.2]), _document([1.3, 1.4, 1.5], **env)])
    assert sorted(row.runs for row in report.rows) == [3, 3]
    labels = [row.strategy for row in report.rows]
    assert any(label == f"asyncio ({shown})" for label in labels), labels
    assert any("not pooled" in note for note in report.notes)


def test_labels_per_interpreter_in_one_document_are_kept():
    document = _document([1.0, 1.1, 1.2])
    other = copy.deepcopy(document)
    document["settings"]["interpreters"] = {"asyncio": {"implementation": "CPython", "version": "3.11.7"}}
    other["settings"]["interpreters"] = {"asyncio": {"implementation": "CPython", "version": "3.12.1"}}
    report = build_report([document, other])
    assert sorted(row.strategy for row in report.rows) == ["asyncio (py 3.11.7)", "asyncio (py 3.12.1)"]
