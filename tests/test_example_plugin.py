"""The third-party path, for real: orchbench and the example plugin pip-installed into a fresh virtual environment.

One environment serves the whole module (the install takes most of its time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins" / "orchbench-example"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ORCHBENCH_PLUGINS", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install <repo> <repo>/plugins/orchbench-example pytest``; returns its bin dir.

    This environment's pip installs into it (``--python``), so the venv needs no pip of its own, and without
    byte-compiling: half the time of a plain install, the same files.
    """
    root = tmp_path_factory.mktemp("example-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    bindir = root / "bin"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(bindir / "python"),
            "install",
            "--quiet",
            "--no-compile",
            str(ROOT),
            str(EXAMPLE),
            "pytest",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return bindir


def orchbench(bindir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bindir / "orchbench"), *args], env=_env(), capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_list_shows_the_plugin_with_its_distribution(venv: Path, tmp_path: Path) -> None:
    listed = orchbench(venv, "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["problems"] == []
    rows = {(row["kind"], row["name"]): row for row in data["items"]}
    for key in (("strategy", "chunked-threads"), ("workload", "wordlen")):
        assert (rows[key]["distribution"], rows[key]["version"], rows[key]["plugin"]) == (
            "orchbench-example",
            "0.1.0",
            "example",
        )
    assert rows[("strategy", "chunked-threads")]["options"] == ["threads"]
    assert rows[("strategy", "sequential")]["distribution"] == "orchbench"


def test_its_command_joins_the_command_line(venv: Path, tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("A cat sat on the mat - twice.", encoding="utf-8")
    ran = orchbench(venv, "wordlen", str(text), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["1\t1", "2\t1", "3\t4", "5\t1"]  # a, on, cat sat the mat, twice
    assert "wordlen" in orchbench(venv, "--help", cwd=tmp_path).stdout
    missing = orchbench(venv, "wordlen", str(tmp_path / "missing.txt"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("orchbench: error: ")
    assert len(missing.stderr.splitlines()) == 1


def test_installed_import_names_stay_under_orchbench(venv: Path) -> None:
    site = subprocess.run(
        [str(venv / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    names = {p.name for p in Path(site).iterdir()}
    assert {"orchbench", "orchbench_example"} <= names
    assert not names & {"plugins", "tasks", "tests", "src"}


def test_its_strategy_runs_its_workload_correctly(venv: Path, tmp_path: Path) -> None:
    ran = orchbench(
        venv, "run", "chunked-threads", "--workload", "wordlen", "--test-case", "medium", "--json", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["correct"] is True and result["complete"] is True
    assert result["succeeded"] == result["items"] == 35
    assert result["retries"] > 0  # the workload's default scenario injects faults; the harness retried them
    assert sum(result["output"].values()) == 33  # the two dashes have no letters: no length to count


def test_its_strategy_runs_orchbench_anagrams_with_an_option(venv: Path, tmp_path: Path) -> None:
    ran = orchbench(
        venv,
        "run",
        "chunked-threads",
        "--test-case",
        "medium",
        "--scenario",
        "fast",
        "--set",
        "threads=3",
        "--json",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["correct"] is True and result["spec"]["strategy_options"] == {"threads": 3}
    bad = orchbench(venv, "run", "chunked-threads", "--set", "threads=0", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "orchbench: error: option threads='0' is below its minimum 1 (accepted: a whole number from 1 to 256)"
    )


def test_its_own_tests_pass_against_the_installed_packages(venv: Path, tmp_path: Path) -> None:
    tests = subprocess.run(
        [str(venv / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout


def test_compare_runs_it_beside_sequential(venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp.json"
    ran = orchbench(
        venv,
        "compare",
        "--strategies",
        "chunked-threads",
        "sequential",
        "--test-case",
        "medium",
        "--scenario",
        "fast",
        "--iterations",
        "2",
        "--warmup",
        "0",
        "--output",
        str(out),
        "--quiet",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    saved = json.loads(out.read_text())
    runs = [r for r in saved["runs"] if not r["warmup"]]
    assert sorted({r["label"] for r in runs}) == ["chunked-threads", "sequential"]
    assert len(runs) == 4 and all(r["correct"] and r["complete"] for r in runs)
