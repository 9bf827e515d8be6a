"""Plugin isolation: real entry points of real (tiny) distributions, each a ``.dist-info`` directory on the path.

A plugin that fails to import, supplies a taken name, or whose hook raises is reported with its distribution
and error; the built-ins and the healthy plugins keep working, in the registry and on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import orchbench
from orchbench import hookspecs
from orchbench.harness.plugins import ENV_VAR, load_registry

ROOT = Path(__file__).resolve().parent.parent

GOOD = """
import orchbench
from orchbench.strategies.sequential import Sequential

class Again(Sequential):
    name = "again"
    description = "sequential, from a third-party plugin"

@orchbench.hookimpl
def orchbench_strategies():
    return [Again]
"""
BROKEN_IMPORT = "raise RuntimeError('boom at import')\n"
DUPLICATE = """
import orchbench
from orchbench.strategies.sequential import Sequential

class Impostor(Sequential):
    name = "sequential"

@orchbench.hookimpl
def orchbench_strategies():
    return [Impostor]
"""
RAISING_HOOK = """
import orchbench
from orchbench.strategies.sequential import Sequential

class Survivor(Sequential):
    name = "survivor"

@orchbench.hookimpl
def orchbench_strategies():
    return [Survivor]

@orchbench.hookimpl
def orchbench_workloads():
    raise ValueError("no workloads today")
"""
NOT_A_STRATEGY = """
import orchbench

@orchbench.hookimpl
def orchbench_strategies():
    return ["sequential-ish"]
"""


def make_dist(root: Path, dist: str, plugin: str, source: str, version: str = "1.0") -> str:
    """A distribution ``dist`` whose entry point ``plugin`` is a module holding ``source``; returns its module."""
    module = f"obtest_{plugin.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{hookspecs.PROJECT}]\n{plugin} = {module}\n")
    return module


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A directory on sys.path for fake distributions; only they (and the built-ins) are loaded."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("obtest_"):
            del sys.modules[name]


def only(monkeypatch: pytest.MonkeyPatch, *dists: str) -> None:
    monkeypatch.setenv(ENV_VAR, ",".join(dists))


def problems_of(registry, dist: str) -> list[str]:
    return [p.error for p in registry.problems if p.source.distribution == dist]


def test_plugin_failing_at_import_is_reported_and_the_rest_loads(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "ob-good", "good", GOOD)
    make_dist(site, "ob-broken", "broken", BROKEN_IMPORT, version="2.3")
    only(monkeypatch, "ob-good", "ob-broken")
    registry = load_registry()
    [problem] = registry.problems
    assert (problem.source.plugin, problem.source.distribution, problem.source.version) == (
        "broken",
        "ob-broken",
        "2.3",
    )
    assert problem.error == "RuntimeError: boom at import"
    assert {"again", "sequential"} <= set(registry.names("strategy"))
    assert registry.entries["strategy"]["again"].source.distribution == "ob-good"
    assert "anagrams" in registry.names("workload")


def test_duplicate_name_is_refused_naming_both_sources(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "ob-dupe", "dupe", DUPLICATE)
    only(monkeypatch, "ob-dupe")
    registry = load_registry()
    [error] = problems_of(registry, "ob-dupe")
    assert "strategy 'sequential' is supplied by both plugin 'sequential' (orchbench" in error
    assert "plugin 'dupe' (ob-dupe 1.0)" in error and "keeping the first" in error
    from orchbench.strategies.sequential import Sequential

    assert registry.strategy("sequential") is Sequential


def test_raising_hook_is_reported_and_the_plugins_other_hooks_count(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(site, "ob-halfway", "halfway", RAISING_HOOK)
    only(monkeypatch, "ob-halfway")
    registry = load_registry()
    assert problems_of(registry, "ob-halfway") == ["orchbench_workloads() raised ValueError: no workloads today"]
    assert registry.entries["strategy"]["survivor"].source.plugin == "halfway"
    assert "anagrams" in registry.names("workload")


def test_something_other_than_a_strategy_class_is_refused(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "ob-odd", "odd", NOT_A_STRATEGY)
    only(monkeypatch, "ob-odd")
    registry = load_registry()
    [error] = problems_of(registry, "ob-odd")
    assert error == "supplied 'sequential-ish', not a named Strategy subclass"


def test_env_var_restricts_loading_to_named_plugins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "ob-good", "good", GOOD)
    broken = make_dist(site, "ob-broken", "broken", BROKEN_IMPORT)
    only(monkeypatch, "good")  # by plugin name this time
    registry = load_registry()
    assert registry.problems == [] and "again" in registry.names("strategy")
    assert broken not in sys.modules  # not even imported
    only(monkeypatch)  # empty: the built-ins alone
    registry = load_registry()
    assert registry.problems == []
    assert {e.source.distribution for kind in registry.entries.values() for e in kind.values()} == {"orchbench"}


def test_cli_lists_broken_plugins_and_still_runs(tmp_path: Path) -> None:
    make_dist(tmp_path, "ob-good", "good", GOOD)
    make_dist(tmp_path, "ob-broken", "broken", BROKEN_IMPORT)
    make_dist(tmp_path, "ob-halfway", "halfway", RAISING_HOOK)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        ENV_VAR: "ob-good,ob-broken,ob-halfway",
    }
    listed = subprocess.run(
        [sys.executable, "-m", "orchbench", "list", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 1, listed.stderr  # problems make `list` fail, so CI notices
    data = json.loads(listed.stdout)
    assert {(p["plugin"], p["distribution"]) for p in data["problems"]} == {
        ("broken", "ob-broken"),
        ("halfway", "ob-halfway"),
    }
    names = {(row["kind"], row["name"]): row["distribution"] for row in data["items"]}
    assert names[("strategy", "again")] == "ob-good" and names[("strategy", "survivor")] == "ob-halfway"
    ran = subprocess.run(
        [sys.executable, "-m", "orchbench", "run", "again", "--test-case", "small", "--scenario", "none", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["correct"] is True
    assert "plugin 'broken' (ob-broken 1.0): RuntimeError: boom at import" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_docs_describe_every_hook_and_the_api_version() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("orchbench_")]
    assert len(hooks) == 5
    missing = [name for name in hooks if f"`{name}" not in text]
    assert not missing, f"docs/plugins.md does not describe {missing}"
    assert f"HOOK_API_VERSION` is {orchbench.HOOK_API_VERSION}" in text
    assert ENV_VAR in text
