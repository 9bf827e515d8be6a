"""`orchbench compare`, `report` and the gate, for real: child processes, saved files, exit statuses."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from orchbench.cli.app import expand_multi_values
from tests.helpers import cli


def test_the_three_ways_of_naming_strategies_agree():
    assert expand_multi_values(["compare", "--strategies", "asyncio", "processes", "--iterations", "3"]) == [
        "compare",
        "--strategies",
        "asyncio",
        "--strategies",
        "processes",
        "--iterations",
        "3",
    ]
    assert expand_multi_values(["compare", "--strategies", "asyncio,processes"]) == [
        "compare",
        "--strategies",
        "asyncio,processes",
    ]
    assert expand_multi_values(["compare", "--strategy", "a", "--strategy", "b"]) == [
        "compare",
        "--strategy",
        "a",
        "--strategy",
        "b",
    ]


def test_compare_saves_reports_and_gates(tmp_path):
    saved = tmp_path / "now.json"
    proc = cli(
        "compare",
        "--strategies",
        "sequential",
        "threads",
        "--test-case",
        "small",
        "--scenario",
        "none",
        "--iterations",
        "4",
        "--warmup",
        "1",
        "--output",
        str(saved),
        "--format",
        "csv",
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted(r["strategy"] for r in rows) == ["sequential", "threads"]
    document = json.loads(saved.read_text())
    assert document["schema"] == "orchbench.comparison/2" and document["settings"]["complete"] is True
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
    gated = cli(
        "compare",
        "--strategies",
        "sequential",
        "--test-case",
        "small",
        "--scenario",
        "none",
        "--iterations",
        "4",
        "--warmup",
        "0",
        "--output",
        str(tmp_path / "again.json"),
        "--quiet",
        "--against",
        str(baseline),
        "--fail-above",
        "10%",
    )
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


def test_a_strategy_without_a_successful_run_makes_compare_fail(tmp_path):
    """A server that speaks another protocol: every run fails, as with `run`, so the status is 1 — with the table
    printed and the document saved."""
    from tests.hostile import tcp_server

    lines = tmp_path / "lines.txt"
    lines.write_text("a\n")
    with tcp_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")) as port:
        proc = cli(
            "compare",
            "-s",
            "sequential",
            "-w",
            "scoring",
            "--url",
            f"http://127.0.0.1:{port}",
            "-i",
            str(lines),
            "-n",
            "1",
            "--warmup",
            "0",
            "-o",
            str(tmp_path / "r.json"),
            "--retry",
            "none",
            "--set",
            "retry.timeout=1",
        )
    assert proc.returncode == 1, proc.stderr
    assert "sequential: no successful run" in proc.stderr and "sequential" in proc.stdout
    assert json.loads((tmp_path / "r.json").read_text())["runs"]


def test_a_target_that_cannot_be_written_is_refused_before_the_first_run(tmp_path):
    for target in ("/dev/null", str(tmp_path)):
        proc = cli("compare", "-s", "sequential", "-t", "small", "-o", target)
        assert proc.returncode == 2 and "[1/" not in proc.stderr, proc.stderr  # no run started
        assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0]
        assert "cannot write results to" in proc.stderr
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_when_saving_fails_at_the_end_the_table_is_printed_and_a_fallback_named(tmp_path):
    """The results directory is replaced by a file while the comparison runs: the check before the first run
    passed, the save at the end fails, nothing measured is lost."""
    results_dir = tmp_path / "out"
    results_dir.mkdir()
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchbench",
            "compare",
            "-s",
            "sequential",
            "-t",
            "small",
            "--scenario",
            "none",
            "-n",
            "2",
            "--warmup",
            "0",
            "-o",
            str(results_dir / "r.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )
    first = proc.stderr.readline()
    while first and not first.startswith("[1/2]"):  # past warnings: the first run's progress line
        first = proc.stderr.readline()
    assert first.startswith("[1/2]"), first  # the second run is still to come
    results_dir.rmdir()
    results_dir.write_text("now a file")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "sequential" in out  # the table
    [line] = [line for line in err.splitlines() if "error" in line]
    fallback = Path(line.rsplit("saved to ", 1)[1].removesuffix(" instead"))
    assert fallback.parent == tmp_path / "tmp" and len(json.loads(fallback.read_text())["runs"]) == 2


def test_benchmark_fails_on_a_chosen_strategy_without_success_but_not_on_the_naive_reference_point(tmp_path):
    # seed 0 on `small`: the naive orchestrator (no retries) never gets a complete output
    common = [
        "benchmark",
        "--test-case",
        "small",
        "--scenario",
        "fast",
        "--seed",
        "0",
        "--iterations",
        "1",
        "--quiet",
        "--results-dir",
        str(tmp_path),
    ]
    shown = cli(*common)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"small\s+naive\s.*\bNO\b", shown.stdout), shown.stdout  # still shown, as failing
    chosen = cli(*common, "--strategies", "sequential", "naive")
    assert chosen.returncode == 1
    assert "naive (small): no successful run" in chosen.stderr
