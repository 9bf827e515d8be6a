"""`orchbench compare`, `report` and the gate, for real: child processes, saved files, exit statuses."""

from __future__ import annotations

import csv
import io
import json

from orchbench.cli import expand_multi_values
from tests.helpers import cli


def test_the_three_ways_of_naming_strategies_agree():
    assert expand_multi_values(["compare", "--strategies", "asyncio", "processes", "--iterations", "3"]) == \
        ["compare", "--strategies", "asyncio", "--strategies", "processes", "--iterations", "3"]
    assert expand_multi_values(["compare", "--strategies", "asyncio,processes"]) == \
        ["compare", "--strategies", "asyncio,processes"]
    assert expand_multi_values(["compare", "--strategy", "a", "--strategy", "b"]) == \
        ["compare", "--strategy", "a", "--strategy", "b"]


def test_compare_saves_reports_and_gates(tmp_path):
    saved = tmp_path / "now.json"
    proc = cli("compare", "--strategies", "sequential", "threads", "--test-case", "small", "--scenario", "none",
               "--iterations", "4", "--warmup", "1", "--output", str(saved), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted(r["strategy"] for r in rows) == ["sequential", "threads"]
    document = json.loads(saved.read_text())
    assert document["schema"] == "orchbench.comparison/1" and document["settings"]["complete"] is True
    measured = [r for r in document["runs"] if not r["warmup"]]
    assert len(measured) == 8 and all(r["correct"] for r in measured)
    rounds = [[r["label"] for r in measured if r["round"] == n] for n in range(1, 5)]
    assert rounds[0] == rounds[1][::-1]  # interleaved, and the order rotates each round
    assert document["environment"]["cpu_count"] and document["environment"]["python"]

    report = cli("report", str(saved), "--format", "markdown")
    assert report.returncode == 0, report.stderr
    assert "| sequential" in report.stdout and "| threads" in report.stdout

    # a baseline ten times faster than now: the gate must fail and name the strategies
    faster = json.loads(saved.read_text())
    for run in faster["runs"]:
        run["wall_s"] /= 10
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps(faster))
    gated = cli("compare", "--strategies", "sequential", "--test-case", "small", "--scenario", "none",
                "--iterations", "4", "--warmup", "0", "--output", str(tmp_path / "again.json"), "--quiet",
                "--against", str(baseline), "--fail-above", "10%")
    assert gated.returncode == 1
    assert "regression" in gated.stderr and "sequential" in gated.stderr


def test_bad_compare_input_is_one_line(tmp_path):
    for args, fragment in [
        (["compare", "--strategies", "sequential", "sequential"], "given twice"),
        (["compare", "--strategies", "nope"], "unknown strategy 'nope'"),
        (["compare", "--strategies", "threads", "--baseline-strategy", "asyncio"], "not among those compared"),
        (["compare", "--fail-above", "lots"], "threshold 'lots' is not a number"),
        (["report", str(tmp_path / "missing.json")], "missing.json"),
    ]:
        proc = cli(*args)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and fragment in proc.stderr, proc.stderr
