"""Faulty plugins, installed for real as entry points: each fault is reported with its plugin and distribution,
and isolated — the other strategies of the same comparison still run, are verified and are reported.

A strategy that returns too few (or misordered, or no list of) outcomes, or raises mid-run, gets an error for
that run: never a "correct" verdict, and never a total over the items it happened to return.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.errors import StrategyError
from orchbench.harness.plugins import ENV_VAR, _registry_for
from tests.helpers import run_here, share_dictionary_index
from tests.test_plugin_system import BROKEN_IMPORT, DUPLICATE, GOOD, make_dist

FAULTY = """
import orchbench
from orchbench.strategies.sequential import Sequential


class Short(Sequential):
    name = "short"
    description = "drops the last outcome"

    def map(self, task, items):
        return super().map(task, items)[:-1]


class Boom(Sequential):
    name = "boom"
    description = "raises half-way through"

    def map(self, task, items):
        half = len(items) // 2
        for index, item in enumerate(items[:half]):
            task.run(index, item)
        raise RuntimeError(f"kaboom after {half} items")


class Backwards(Sequential):
    name = "backwards"
    description = "every outcome, in reverse order"

    def map(self, task, items):
        return super().map(task, items)[::-1]


class Lazy(Sequential):
    name = "lazy"
    description = "a generator instead of a list"

    def map(self, task, items):
        return (task.run(index, item) for index, item in enumerate(items))


@orchbench.hookimpl
def orchbench_strategies():
    return [Short, Boom, Backwards, Lazy]
"""

SOURCE = "of plugin 'faulty' (ob-faulty 1.0)"


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The ob-faulty distribution installed and selected, in this process (registry reloaded around the test)."""
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "ob-faulty", "faulty", FAULTY)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(ENV_VAR, "ob-faulty")
    share_dictionary_index(monkeypatch)
    _registry_for.cache_clear()
    yield site
    _registry_for.cache_clear()
    for name in [m for m in sys.modules if m.startswith("obtest_")]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ("short", "broke its contract: strategy returned 19 outcomes for 20 items"),
        ("boom", "raised RuntimeError: kaboom after 10 items"),
        ("backwards", "broke its contract: strategy returned outcome 19 at position 0"),
        ("lazy", "broke its contract: strategy returned generator, not a list of outcomes"),
    ],
)
def test_a_strategy_breaking_its_contract_is_the_runs_error_naming_its_plugin(faulty, strategy, message):
    with pytest.raises(StrategyError) as info:
        run_here(strategy, input_path=str(_words(faulty, 20)), memo=False)
    assert str(info.value) == f"strategy {strategy!r} {SOURCE} {message}"


def _words(directory: Path, n: int) -> Path:
    path = directory / f"words-{n}.txt"
    path.write_text(" ".join(f"w{i}x" for i in range(n)))
    return path


def _env(site: Path, *dists: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        ENV_VAR: ",".join(dists),
    }


def test_compare_isolates_broken_and_faulty_plugins_and_reports_the_rest(tmp_path: Path):
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "ob-good", "good", GOOD)
    make_dist(site, "ob-broken", "broken", BROKEN_IMPORT, version="2.0")
    make_dist(site, "ob-dupe", "dupe", DUPLICATE)
    make_dist(site, "ob-faulty", "faulty", FAULTY)
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchbench",
            "compare",
            "--strategies",
            "sequential",
            "short",
            "boom",
            "--test-case",
            "medium",
            "--scenario",
            "none",
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--output",
            str(out),
            "--format",
            "json",
        ],
        env=_env(site, "ob-good", "ob-broken", "ob-dupe", "ob-faulty"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # the faulty strategies have no successful run; the others are reported
    assert "orchbench: short: no successful run" in proc.stderr and "orchbench: boom: no successful run" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("orchbench: warning:")]
    assert any("plugin 'broken' (ob-broken 2.0): RuntimeError: boom at import" in w for w in warnings), warnings
    assert any("strategy 'sequential' is supplied by both" in w and "ob-dupe" in w for w in warnings), warnings
    runs = {run["label"]: run for run in json.loads(out.read_text())["runs"]}
    assert runs["sequential"]["correct"] is True
    assert runs["sequential"]["spec"]["strategy"] == "sequential"  # the built-in, not the impostor
    for name, message in [("short", "broke its contract: strategy returned"), ("boom", "raised RuntimeError: kaboom")]:
        run = runs[name]
        assert run["error"].startswith(f"strategy {name!r} {SOURCE} {message}"), run["error"]
        assert run["correct"] is not True and run["complete"] is False and run["succeeded"] == 0
        assert run.get("output") is None and run["output_digest"] is None
        assert f"{name}: " in proc.stderr and "error: strategy" in proc.stderr  # the progress line says so
    report = json.loads(proc.stdout)
    assert report["winner"] == "sequential"
    assert {row["strategy"] for row in report["results"]} == {"sequential", "short", "boom"}


def test_run_of_a_short_strategy_never_gives_a_total(tmp_path: Path):
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "ob-faulty", "faulty", FAULTY)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchbench",
            "run",
            "short",
            "--workload",
            "scoring",
            "--test-case",
            "small",
            "--scenario",
            "none",
            "--json",
        ],
        env=_env(site, "ob-faulty"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert result["output"] is None and result["correct"] is not True and result["complete"] is False
    assert result["error"].startswith(f"strategy 'short' {SOURCE} broke its contract")
