"""``orchbench sweep`` as a user runs it: one progress across its points, its title as text, one plot per sweep."""

from __future__ import annotations

import re

import pytest

from tests.helpers import cli


@pytest.mark.slow  # a whole sweep (~10 s): -m slow
def test_a_sweep_counts_its_runs_across_points_and_keeps_its_title_and_plots(tmp_path):
    text = tmp_path / "words.txt"
    text.write_text("stone listen tabs silent notes onset\n")
    args = ["sweep", "--over", "concurrency=1,2", "-s", "asyncio", "--input", str(text), "--scenario", "none"]
    args += ["-n", "1", "--results-dir", str(tmp_path / "results")]
    first = cli(*args, env={"COLUMNS": "80"}, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "median wall time [s] by concurrency" in first.stdout  # "[s]" is text, not rich markup
    progress = [line for line in first.stderr.splitlines() if line.startswith("[")]
    assert [line.split()[:2] for line in progress] == [["[1/2]", "concurrency=1"], ["[2/2]", "concurrency=2"]]
    assert progress[0].endswith("left)") and progress[-1].endswith("(done)")
    warnings = [line for line in first.stderr.splitlines() if "noisy machine" in line]
    assert len(warnings) == len(set(warnings))  # each reason once for the whole sweep, not once per point
    second = cli(*args, timeout=300)
    assert second.returncode == 0, second.stderr
    plots = [re.search(r"plot: (\S+)", run.stderr)[1] for run in (first, second)]
    assert plots[0] != plots[1] and all((tmp_path / "results").glob("sweep-*.png"))
    assert len(list((tmp_path / "results").glob("sweep-*.png"))) == 2  # the second sweep kept the first's plot
