"""No command writes over a file it reads: outputs are checked against inputs (and each other) by file identity —
symlinks, hard links and paths that do not exist yet included — before any work, in one line with status 2."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cli_here import assert_one_clear_line, cli_here

pytestmark = pytest.mark.adversarial("outputs over inputs")

FIXTURE = Path(__file__).parent / "fixtures" / "comparison-v1-80e9a0c.json"
QUICK = ("-s", "sequential", "-t", "small", "--scenario", "none", "-n", "1", "--warmup", "0")


def results_file(path: Path) -> bytes:
    shutil.copy(FIXTURE, path)
    return path.read_bytes()


def test_report_refuses_a_project_default_output_that_is_its_input(tmp_path):
    before = results_file(tmp_path / "main.json")
    (tmp_path / "pyproject.toml").write_text('[tool.orchbench]\noutput = "main.json"\n', encoding="utf-8")
    ran = cli_here("report", "main.json", "--format", "markdown")
    assert ran.code == 2 and "--output main.json" in ran.err and "orchbench never writes over" in ran.err, ran
    assert (tmp_path / "main.json").read_bytes() == before


def test_compare_refuses_an_html_page_over_its_results_before_measuring(tmp_path):
    before = results_file(tmp_path / "r.json")
    ran = cli_here("compare", *QUICK, "-o", "r.json", "--html", "r.json")
    assert_one_clear_line(ran, "--html r.json", "--output")
    assert ran.code == 2 and (tmp_path / "r.json").read_bytes() == before


def test_compare_refuses_to_write_its_results_over_the_baseline_it_gates_against(tmp_path):
    before = results_file(tmp_path / "b.json")
    ran = cli_here("compare", *QUICK, "-o", "b.json", "--against", "b.json")
    assert_one_clear_line(ran, "--output b.json", "the baseline (--against)")
    assert ran.code == 2 and (tmp_path / "b.json").read_bytes() == before


def test_reference_record_refuses_to_write_over_its_input(tmp_path):
    (tmp_path / "d.txt").write_text("one line\nanother\n", encoding="utf-8")
    ran = cli_here("reference", "record", "-w", "anagrams", "--input", "d.txt", "-o", "d.txt")
    assert_one_clear_line(ran, "--output d.txt", "the input (--input)")
    assert ran.code == 2 and (tmp_path / "d.txt").read_text(encoding="utf-8") == "one line\nanother\n"


@pytest.mark.parametrize("link", [os.symlink, os.link], ids=["symlink", "hard-link"])
def test_a_link_to_an_input_is_that_input(tmp_path, link):
    before = results_file(tmp_path / "main.json")
    link(tmp_path / "main.json", tmp_path / "other-name.json")
    ran = cli_here("report", "main.json", "--format", "json", "-o", "other-name.json")
    assert_one_clear_line(ran, "--output other-name.json", "(main.json)")
    assert ran.code == 2 and (tmp_path / "main.json").read_bytes() == before


def test_two_outputs_that_do_not_exist_yet_are_compared_by_their_resolved_path(tmp_path):
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "here")  # here/new.json and sub/../new.json are one new file
    ran = cli_here("compare", *QUICK, "-o", "sub/../new.json", "--html", "here/new.json")
    assert_one_clear_line(ran, "--html here/new.json", "--output")
    assert not (tmp_path / "new.json").exists()


def test_an_output_over_a_plugin_file_is_refused(tmp_path):
    plugin = tmp_path / "mine.py"
    plugin.write_text("x = 1\n", encoding="utf-8")
    ran = cli_here("compare", "-p", "mine.py", *QUICK, "-o", "mine.py")
    assert_one_clear_line(ran, "--output mine.py", "the plugin file")
    assert plugin.read_text(encoding="utf-8") == "x = 1\n"


@pytest.mark.slow  # a whole sweep (~10 s): -m slow
def test_sweep_names_its_plot_after_its_own_results_so_never_over_an_input(tmp_path):
    """A sweep's plot is named after the sweep's first results file (a name no earlier file has): an input named
    like an earlier sweep's plot is read, never written."""
    (tmp_path / "results").mkdir()
    text = tmp_path / "results" / "sweep-anagrams-seed.png"
    text.write_text("cat dog\n", encoding="utf-8")
    ran = cli_here("sweep", "--over", "seed=0,1", "-s", "sequential", "-i", str(text), "-n", "1", "-q")
    assert ran.code == 0, ran
    assert text.read_text(encoding="utf-8") == "cat dog\n"
    [plot] = [p for p in (tmp_path / "results").glob("sweep-*.png") if p != text]
    assert plot.name.startswith("sweep-anagrams-") and plot.name.endswith("-seed.png")


def test_a_late_write_over_an_input_is_refused_too(tmp_path):
    """The safety net: a file named only once the work is done (here a plot) is checked when it is written."""
    from orchbench.errors import UsageError
    from orchbench.harness import overwrite
    from orchbench.views.plots import plot_comparison

    document = tmp_path / "x-wall.png"
    document.write_text("not really a picture", encoding="utf-8")
    overwrite.refuse_overwrites({}, {"the input (--input)": document})
    from orchbench.results.document import load

    with pytest.raises(UsageError, match="that is the input"):
        plot_comparison(load(FIXTURE), tmp_path, stem="x")
    overwrite.forget()
    assert document.read_text(encoding="utf-8") == "not really a picture"


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize(
    "args",
    [
        ("compare", *QUICK, "--html", "adir"),
        ("reference", "record", "-w", "anagrams", "-t", "small", "--scenario", "none", "-o", "adir"),
    ],
    ids=["compare-html", "reference-output"],
)
def test_an_output_that_is_a_directory_is_refused_before_measuring(tmp_path, args):
    (tmp_path / "adir").mkdir()
    ran = cli_here(*args)
    assert_one_clear_line(ran, "adir", "it is a directory")
    assert ran.code == 2 and not list(tmp_path.glob("results/*.json"))
    assert "recording" not in ran.err  # refused before the careful run began
