"""orchbench history: the trend across commits and the commit that made a strategy slower."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from orchbench.results.history import Point, change_points
from tests.helpers import cli


def _points(*walls: list[float]) -> list[Point]:
    return [Point(f"{i:040x}", False, f"2026-01-0{i + 1}", list(w)) for i, w in enumerate(walls)]


def test_a_step_in_the_runs_is_found_where_it_starts():
    flat = [1.00, 1.02, 0.99, 1.01]
    slow = [1.50, 1.52, 1.49, 1.51]
    [change] = change_points(_points(flat, [1.01, 0.98, 1.0, 1.03], flat, slow, [1.48, 1.53, 1.5, 1.49]))
    assert change.at == 3 and change.slower and change.p_value < 0.05
    assert change.ratio > 1.4


def test_noise_without_a_step_is_no_change():
    assert change_points(_points([1.0, 1.3, 0.9], [1.2, 0.95, 1.1], [1.05, 1.25, 0.92], [1.15, 0.97, 1.22])) == []


def test_too_few_runs_cannot_make_a_change():
    assert change_points(_points([1.0], [2.0], [3.0], [4.0])) == []


PIPELINE = """
import time
import orchbench

DELAY = {delay}

def words(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split()

@orchbench.workload("delays", items=words, reduce=len, reference=len)
def wait(word):
    time.sleep(DELAY)
    return word

@orchbench.hookimpl
def orchbench_workloads():
    return [wait]
"""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_history_names_the_commit_that_made_a_strategy_slower(tmp_path):
    repo, results = tmp_path / "project", tmp_path / "results"
    repo.mkdir()
    (repo / "words.txt").write_text("one two three four five six seven eight\n", encoding="utf-8")
    _git(repo, "init", "-q")
    commits = []
    for n, delay in enumerate([0.002, 0.002, 0.002, 0.03, 0.03]):
        (repo / "pipeline.py").write_text(textwrap.dedent(PIPELINE.format(delay=delay)), encoding="utf-8")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"change {n}")
        commits.append(_git(repo, "rev-parse", "HEAD"))
        ran = cli(
            "compare",
            "-p",
            "pipeline.py",
            "-w",
            "delays",
            "-i",
            "words.txt",
            "-s",
            "sequential",
            "-n",
            "3",
            "--warmup",
            "0",
            "-q",
            "-o",
            str(results / f"{n}.json"),
            cwd=repo,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stderr
    shown = cli("history", str(results), env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    regressions = [line for line in shown.stdout.splitlines() if line.startswith("regression:")]
    assert len(regressions) == 1, shown.stdout
    assert f"from commit {commits[3][:7]}" in regressions[0] and "slower" in regressions[0]
    page = (results / "history.html").read_text(encoding="utf-8")
    assert commits[3][:7] in page and "data:image/png;base64," in page
    assert "history: " in shown.stderr


def test_history_of_what_is_not_a_directory_of_results_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.json").write_text("{}", encoding="utf-8")
    for given, fragment in [("file.json", "not a directory"), ("empty", "no results files"), ("nope", "not a dir")]:
        ran = cli("history", str(tmp_path / given))
        assert ran.returncode == 2 and fragment in ran.stderr, ran.stderr
        assert len(ran.stderr.strip().splitlines()) == 1
