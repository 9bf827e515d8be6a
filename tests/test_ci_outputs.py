"""CI outputs: --junit on compare and run, the GitHub step summary, report --format benchmark-action, and the
gate's baseline checked before anything runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchbench.harness.planner import plan
from orchbench.python_api import Comparison
from orchbench.results.document import make_document
from orchbench.types import RunResult, RunSpec
from orchbench.views.ci import benchmark_action, cases_of, junit_xml
from tests.helpers import cli

QUICK = ("-t", "small", "--scenario", "none", "--warmup", "0", "--quiet")


def _document(walls: dict[str, list[float]], wrong: set[str] = frozenset()) -> dict:
    order = plan(list(walls), iterations=len(next(iter(walls.values()))), warmup=0)
    pairs = []
    for slot in order:
        spec = RunSpec(strategy=slot.strategy, case="small", scenario="none").to_dict()
        bad = slot.strategy in wrong and slot.round == 1
        failures = [{"item": "tac", "positions": 1, "error": "Boom <&>\x07"}] if bad else []
        result = RunResult(
            spec=spec, items=3, succeeded=3 - bad, failed=int(bad), complete=not bad, correct=True, failures=failures
        )
        result.wall_s = walls[slot.strategy][slot.round - 1]
        pairs.append((slot, result))
    settings = {"workload": "anagrams", "case": "small", "scenario": "none", "baseline": next(iter(walls))}
    return make_document(settings, order, pairs, env={"cpu_model": "Test CPU", "cpu_count": 2})


def test_junit_has_a_case_per_strategy_failed_with_its_first_error_or_its_regression():
    comparison = Comparison(_document({"a": [2.0, 2.1, 2.2, 2.3], "b": [1.0] * 4, "c": [3.0] * 4}, wrong={"b"}))
    cases = cases_of(comparison.report, comparison.failed, {"c": "regression: c: 1.50× slower"})
    root = ET.fromstring(junit_xml("orchbench compare", cases, "anagrams.small"))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    by_name = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(by_name) == {"a", "b", "c"}
    assert by_name["a"].find("failure") is None
    assert float(by_name["a"].get("time")) == pytest.approx(8.6)
    message = by_name["b"].find("failure").get("message")
    assert message.startswith("incomplete: 1 of 3 items failed; first: 'tac': Boom <&>")
    assert "\x07" not in message  # a control character from outside is shown escaped: XML 1.0 cannot hold it
    assert by_name["c"].find("failure").get("message") == "regression: c: 1.50× slower"


def test_benchmark_action_lists_each_strategy_median_smaller_is_better():
    comparison = Comparison(_document({"a": [2.0, 2.1, 2.2, 2.3, 2.4], "b": [1.0, 1.1, 1.2, 1.3, 1.4]}))
    entries = json.loads(benchmark_action(comparison.report))
    assert [e["name"] for e in entries] == ["anagrams · small · b", "anagrams · small · a"]
    assert {e["unit"] for e in entries} == {"s"}
    assert [e["value"] for e in entries] == [pytest.approx(1.2), pytest.approx(2.2)]
    assert all(set(e) == {"name", "unit", "value", "range", "extra"} for e in entries)
    assert entries[0]["range"].startswith("± ") and "5 of 5 runs correct" in entries[0]["extra"]
    assert "faster (p=" in entries[0]["extra"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    """One real comparison with --junit and a step summary: (results, junit, summary, directory)."""
    where = tmp_path_factory.mktemp("ci")
    summary = where / "summary.md"
    summary.write_text("## earlier step\n", encoding="utf-8")
    ran = cli(
        "compare",
        "-s",
        "sequential,threads",
        "-n",
        "4",
        *QUICK,
        "-o",
        str(where / "base.json"),
        "--junit",
        str(where / "junit.xml"),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr
    return where / "base.json", where / "junit.xml", summary, where


def test_compare_writes_junit_and_appends_the_step_summary(baseline):
    results, junit, summary, _ = baseline
    suite = ET.parse(junit).getroot().find("testsuite")
    assert sorted(c.get("name") for c in suite.iter("testcase")) == ["sequential", "threads"]
    assert suite.get("failures") == "0"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## earlier step\n")  # appended, never replaced
    assert "| sequential" in text and "| threads" in text
    document = json.loads(results.read_text())
    assert document["settings"]["input_digest"]
    assert set(document["settings"]["interpreters"]) == {"sequential", "threads"}
    environment = document["environment"]
    assert environment["python_build"] in ("gil", "free-threaded") and "git_dirty" in environment


@pytest.mark.parametrize(
    ("change", "args", "fragment"),
    [
        (None, ("-t", "medium"), "measured with case 'small', this comparison would run 'medium'"),
        (None, ("-n", "2"), "too few runs of 'sequential'"),
        (None, ("-s", "asyncio"), "no strategy in common"),
        (lambda d: d["settings"].update(input_digest="0" * 16), (), "another input"),
        (lambda d: [i.update(version="3.99.0") for i in d["settings"]["interpreters"].values()], (), "3.99.0"),
        (
            lambda d: [
                i.update(build="free-threaded", gil_enabled=False) for i in d["settings"]["interpreters"].values()
            ],
            (),
            "t, this comparison would run it on",
        ),
    ],
)
def test_the_gate_refuses_a_baseline_of_something_else_before_running(baseline, tmp_path, change, args, fragment):
    results, *_ = baseline
    against = results
    if change is not None:
        document = json.loads(results.read_text())
        change(document)
        against = tmp_path / "changed.json"
        against.write_text(json.dumps(document))
    strategy = ("-s", "sequential") if "-s" not in args else ()
    ran = cli("compare", *strategy, "-n", "4", *QUICK, *args, "--against", str(against), "-o", str(tmp_path / "x.json"))
    assert ran.returncode == 2, ran.stderr
    assert fragment in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert not (tmp_path / "x.json").exists()  # nothing ran, nothing was saved


def test_run_junit_fails_an_incomplete_run(tmp_path):
    junit = tmp_path / "run.xml"
    summary = tmp_path / "summary.md"
    ran = cli(
        "run",
        "sequential",
        "-t",
        "small",
        "--scenario",
        "none",
        "--fault-rate",
        "1",
        "--retry",
        "none",
        "--junit",
        str(junit),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert ran.returncode == 1, ran.stderr
    [case] = ET.parse(junit).getroot().iter("testcase")
    assert case.get("name") == "sequential"
    message = case.find("failure").get("message")
    assert message.startswith("failed: ") and "InjectedFault" in message  # every attempt fails, none is retried
    assert "orchbench run sequential" in summary.read_text() and "InjectedFault" in summary.read_text()
