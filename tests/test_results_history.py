"""Comparison files of every earlier schema version load, migrated, and report; a newer version is refused.

The fixtures are real files written by orchbench at the commit in their name (``orchbench compare … -o``):
3e0975a wrote the first version 1 files, 80e9a0c the last ones (before the original exercise's names changed
from "seed" to "original").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchbench.harness.specs import build_specs
from orchbench.results import document as results
from orchbench.results.gate import regressions
from orchbench.types import RunOptions
from tests.helpers import cli

FIXTURES = Path(__file__).parent / "fixtures"
FIRST_V1 = FIXTURES / "comparison-v1-3e0975a.json"  # anagrams small, scenario seed: sequential and naive
LAST_V1 = FIXTURES / "comparison-v1-80e9a0c.json"  # scoring small, scenario seed: asyncio and seed-design
EARLIER = sorted(FIXTURES.glob("comparison-v*.json"))


def test_there_is_a_fixture_of_every_earlier_version():
    versions = {json.loads(path.read_text())["schema"].rpartition("/")[2] for path in EARLIER}
    assert versions == {str(n) for n in range(1, results.SCHEMA_VERSION)}


@pytest.mark.parametrize("path", EARLIER, ids=lambda p: p.stem)
def test_an_earlier_file_loads_as_the_current_version_with_the_current_names(path):
    raw = json.loads(path.read_text())
    doc = results.load(path)
    assert doc["schema"] == results.SCHEMA and raw["schema"] != results.SCHEMA
    assert raw["settings"]["scenario"] == "seed" and doc["settings"]["scenario"] == "original"
    assert {run["spec"]["scenario"] for run in doc["runs"]} == {"original"}
    assert {spec["scenario"] for spec in doc["settings"]["specs"].values()} == {"original"}
    assert "seed-design" not in json.dumps(doc)  # the old preset name is gone everywhere
    assert len(doc["runs"]) == len(raw["runs"]) and doc["settings"]["seed"] == raw["settings"]["seed"]
    # what the runs measured is unchanged: only names move
    assert [run["wall_s"] for run in doc["runs"]] == [run["wall_s"] for run in raw["runs"]]


def test_the_old_preset_label_becomes_the_new_one_everywhere():
    doc = results.load(LAST_V1)
    assert set(results.measured_runs(doc)) == {"asyncio", "original-design"}
    assert "original-design" in doc["settings"]["specs"] and "original-design" in doc["settings"]["fairness"]["knobs"]
    assert {slot["strategy"] for slot in doc["order"]} == {"asyncio", "original-design"}


@pytest.mark.parametrize("path", EARLIER, ids=lambda p: p.stem)
def test_report_renders_an_earlier_file_with_its_plots(tmp_path, path):
    copy = Path(shutil.copy(path, tmp_path))
    proc = cli("report", str(copy), "--format", "markdown", "--plot")
    assert proc.returncode == 0, proc.stderr
    assert "scenario original" in proc.stdout and "seed" not in proc.stdout
    assert all(label in proc.stdout for label in results.measured_runs(results.load(path)))
    plots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert plots == [f"{copy.stem}-{kind}.png" for kind in ("memory", "throughput", "wall")]  # named after the file
    assert copy.read_bytes() == path.read_bytes()  # reading never rewrites the file


def test_a_gate_against_an_earlier_file_measures_the_same_benchmark(tmp_path):
    # today's file of the same benchmark: the same runs, the settings as a comparison records them now
    raw = json.loads(FIRST_V1.read_text())
    [(_, spec)] = build_specs(["sequential"], RunOptions(case=raw["settings"]["case"], scenario="original"))
    raw["schema"], raw["settings"]["scenario"] = results.SCHEMA, spec.scenario
    current = tmp_path / "now.json"
    current.write_text(json.dumps(raw))
    assert regressions(results.load(current), results.load(FIRST_V1), 0.1) == []


def test_a_newer_version_is_refused_with_one_line(tmp_path):
    doc = json.loads(LAST_V1.read_text())
    doc["schema"] = f"{results.SCHEMA_FAMILY}/{results.SCHEMA_VERSION + 1}"
    future = tmp_path / "future.json"
    future.write_text(json.dumps(doc))
    proc = cli("report", str(future))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "written by a newer orchbench" in proc.stderr and str(future) in proc.stderr


@pytest.mark.slow  # four runs of the anagram pipeline
def test_compare_gates_against_an_earlier_file(tmp_path):
    proc = cli(
        "compare",
        "--strategies",
        "sequential",
        "-t",
        "small",
        "--scenario",
        "original",
        "--latency-scale",
        "0.01",
        "--iterations",
        "4",
        "--warmup",
        "0",
        "-q",
        "-o",
        str(tmp_path / "now.json"),
        "--against",
        str(FIRST_V1),
    )
    assert proc.returncode == 0, proc.stderr
    assert "gate: no strategy significantly slower" in proc.stderr + proc.stdout


def test_the_plots_of_two_comparisons_of_one_benchmark_do_not_overwrite_each_other(tmp_path):
    first = Path(shutil.copy(EARLIER[0], tmp_path / "compare-a.json"))
    second = Path(shutil.copy(EARLIER[0], tmp_path / "compare-b.json"))
    proc = cli("report", str(first), str(second), "--format", "csv", "--plot")
    assert proc.returncode == 0, proc.stderr
    plots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert plots == [
        f"{stem}-{kind}.png" for stem in ("compare-a", "compare-b") for kind in ("memory", "throughput", "wall")
    ]


def test_a_preset_renamed_by_any_plugin_is_migrated_by_the_name_it_declares(tmp_path, monkeypatch):
    """The migration knows no preset by name: a plugin's ``Preset.renamed_from`` is what renames its labels."""
    from orchbench.harness import plugins

    plugin = tmp_path / "renamed_preset.py"
    plugin.write_text(
        "from orchbench import Preset, hookimpl\n\n\n"
        "@hookimpl\n"
        "def orchbench_presets():\n"
        '    return [Preset("hybrid-wide", "the hybrid, wide", "hybrid", renamed_from=("hybrid-fat",))]\n'
    )
    old = tmp_path / "old.json"
    old.write_text(LAST_V1.read_text().replace('"seed-design"', '"hybrid-fat"'))
    monkeypatch.setattr(plugins, "_used", [str(plugin)])
    doc = results.load(old)
    assert set(results.measured_runs(doc)) == {"asyncio", "hybrid-wide"}
    assert "hybrid-fat" not in json.dumps(doc)
