"""The original exercise's cases, scenarios and preset are named "original"; the old "seed" names still work
and say once on stderr which name to use instead ("--seed" stays the random seed)."""

from __future__ import annotations

import json

import pytest

from orchbench.errors import UsageError
from orchbench.harness.specs import build_specs
from orchbench.support import renames
from orchbench.types import RunOptions
from tests.helpers import cli


def _deprecations(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "deprecated" in line]


def test_old_scenario_and_preset_names_run_as_the_new_ones_with_one_line_each():
    proc = cli("run", "seed-design", "-t", "small", "--scenario", "seed", "--latency-scale", "0.01", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["label"] == "original-design" and result["spec"]["scenario"] == "original"
    assert result["spec"]["strategy_options"] == {"concurrency": 100}  # the preset's settings, not bare hybrid's
    assert _deprecations(proc.stderr) == [
        "orchbench: strategy seed-design is deprecated; use strategy original-design",
        "orchbench: --scenario seed is deprecated; use --scenario original",
    ]


def test_old_test_case_name_names_the_same_corpus(capsys, monkeypatch):
    monkeypatch.setattr(renames, "_announced", set())  # announced once per process: this test wants the first
    [(_, spec)] = build_specs(["asyncio"], RunOptions(workload="scoring", case="seed", scenario="none"))
    assert spec.case == "original"
    assert _deprecations(capsys.readouterr().err) == [
        "orchbench: --test-case seed is deprecated; use --test-case original"
    ]


@pytest.mark.slow  # 20,507 requests
def test_old_test_case_name_scores_the_same_corpus():
    proc = cli("run", "asyncio", "-w", "scoring", "-t", "seed", "--scenario", "none", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["spec"]["case"] == "original" and result["items"] == 20_507
    assert _deprecations(proc.stderr) == ["orchbench: --test-case seed is deprecated; use --test-case original"]


def test_new_names_and_the_random_seed_print_no_deprecation(capsys):
    [(label, spec)] = build_specs(["original-design"], RunOptions(case="medium", scenario="original", seed=7))
    [(_, scoring)] = build_specs(["asyncio"], RunOptions(workload="scoring", case="original", scenario="original"))
    assert (label, spec.scenario, spec.seed, scoring.case) == ("original-design", "original", 7, "original")
    assert "deprecated" not in capsys.readouterr().err


def test_a_workload_without_the_old_name_does_not_take_it():
    # anagrams renamed its scenario "seed", but never had a case of that name: that stays an error
    [(_, spec)] = build_specs(["sequential"], RunOptions(scenario="seed"))
    assert spec.scenario == "original"
    with pytest.raises(UsageError, match="no test case 'seed'"):
        build_specs(["sequential"], RunOptions(case="seed"))  # anagrams never had a "seed" case
