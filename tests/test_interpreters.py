"""compare --python: every strategy under each interpreter, orchbench made available there, rows by interpreter."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from orchbench.errors import UsageError
from orchbench.harness.interpreters import describe, interpreter_for, short_label, this_interpreter
from tests.helpers import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "my_pipeline.py"


def _other_python() -> str | None:
    """A Python 3.12 or 3.13 besides this one: on PATH, or installed by pyenv."""
    import os

    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [shutil.which(name) for name in ("python3.12", "python3.13")]
    candidates += [str(p) for p in sorted(pyenv.glob("3.1[23]*/bin/python"))]
    for candidate in filter(None, candidates):
        try:
            if describe(candidate)["version"].startswith(("3.12", "3.13")):
                return candidate
        except UsageError:  # e.g. a pyenv shim of a version not selected here
            continue
    return None


OTHER = _other_python()


def test_this_interpreter_is_described_as_a_probe_describes_it():
    here = this_interpreter()
    assert describe(sys.executable)["version"] == here["version"]
    assert here["build"] in ("gil", "free-threaded") and isinstance(here["debug"], bool)
    assert interpreter_for(sys.executable, [])[0] == sys.executable  # the running one needs no environment


def test_short_labels():
    assert short_label({"implementation": "CPython", "version": "3.13.0", "build": "free-threaded"}) == "3.13.0t"
    assert short_label({"implementation": "PyPy", "version": "3.10.14", "build": "gil"}) == "pypy 3.10.14"


@pytest.mark.parametrize(
    ("given", "message"),
    [("no-such-python-here", "no such file"), (__file__, "not executable"), ("/bin/true", "not a Python interpreter")],
)
def test_what_is_not_an_interpreter_is_one_line(given, message):
    with pytest.raises(UsageError, match=message):
        describe(given)


# slow: the first run on a checkout builds that interpreter's environment (minutes: every dependency installed)
@pytest.mark.slow
@pytest.mark.skipif(OTHER is None, reason="no second Python (3.12 or 3.13) on PATH")
def test_compare_runs_every_strategy_under_each_interpreter(tmp_path):
    source = tmp_path / "lines.txt"
    source.write_text("a line\nanother line\n", encoding="utf-8")
    ran = cli(
        "compare",
        "-p",
        str(EXAMPLE),
        "-w",
        "line-lengths",
        "-i",
        str(source),
        "-s",
        "sequential",
        "--python",
        sys.executable,
        "--python",
        OTHER,
        "-n",
        "1",
        "--warmup",
        "0",
        "-q",
        "-o",
        str(tmp_path / "both.json"),
        "-f",
        "csv",
        timeout=2400,  # the first time, the other interpreter's environment is built (then it is reused)
    )
    assert ran.returncode == 0, ran.stderr
    document = json.loads((tmp_path / "both.json").read_text())
    interpreters = document["settings"]["interpreters"]
    versions = sorted(found["version"] for found in interpreters.values())
    assert len(versions) == 2 and versions[0] != versions[1]
    labels = {f"sequential py{short_label(found)}" for found in interpreters.values()}
    assert set(interpreters) == labels
    assert {run["label"] for run in document["runs"]} == labels and all(run["correct"] for run in document["runs"])
    other = next(found for found in interpreters.values() if found["version"] != this_interpreter()["version"])
    assert {run["spec"]["python"] for run in document["runs"]} == {sys.executable, other["executable"]}
    assert sorted(line.split(",")[0] for line in ran.stdout.splitlines()[1:]) == sorted(labels)
