"""Unusable inputs for both workloads: one clear line and a non-zero status, or a correct result — never a traceback.

What each input gets, and why:

- empty file, or blank lines only: refused ("is empty") — there is nothing to measure, and a benchmark of
  nothing would report a meaningless throughput;
- binary data (NUL bytes): refused ("looks binary"); a non-UTF-8 file: refused ("not UTF-8 text", with the
  offset of the first bad byte) — a guessed decoding would measure some other text;
- a directory: refused ("is a directory");
- a 50 MB single line: for anagrams one 50 MB *word* is refused (a word may have at most 1,000 characters: it
  cannot be an anagram of any dictionary word, and sorting its letters or multiplying its primes would cost
  memory and time out of all proportion); for scoring the line is refused when its request would exceed the
  embedded server's body limit (every attempt would get 413). A 50 MB line of ordinary words is a correct run
  (memory grows with the number of words: about 30 bytes of input held per word);
- ``-``: standard input is read once, kept in a private temporary file, and every run reads that;
- a file that vanishes (or changes) mid-run: the input is read once, in the parent, before any run starts, and
  every run reads a private copy, so a comparison finishes correctly and all its runs measured the same text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.workloads.scoring.scores import score_line
from tests.cli_here import assert_one_clear_line, cli_here

WORKLOADS = ["anagrams", "scoring"]
FAST = {"anagrams": ["--scenario", "none"], "scoring": ["--scenario", "none"]}


def _run(workload: str, path: Path | str, *extra: str):
    return cli_here("run", "sequential", "--workload", workload, "--input", str(path), *FAST[workload], *extra)


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.txt", b"\n  \n\t\n\r\n", "is empty"),
        ("binary.bin", bytes(range(256)) * 64, "looks binary"),
        ("latin1.txt", "naïve café\n".encode("latin-1"), "not UTF-8 text (invalid byte at offset 2)"),
        ("truncated-utf8.txt", "ok é".encode()[:-1], "not UTF-8"),
    ],
)
def test_unusable_files_get_one_clear_line_naming_the_file(workload, name, content, fragment, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    ran = _run(workload, path)
    assert_one_clear_line(ran, str(path), fragment)
    assert ran.code == 2


@pytest.mark.parametrize("workload", WORKLOADS)
def test_a_directory_or_a_missing_file(workload, tmp_path):
    assert_one_clear_line(_run(workload, tmp_path), "is a directory")
    assert_one_clear_line(_run(workload, tmp_path / "gone.txt"), "gone.txt: no such file")


def test_one_huge_word_is_refused_before_any_run(tmp_path):
    path = tmp_path / "word.txt"
    path.write_text("x" * 2_000_000)
    assert_one_clear_line(_run("anagrams", path), str(path), "a word of 2,000,000 characters", "at most 1,000")


@pytest.mark.slow
def test_a_50_mb_single_line_word_is_refused(tmp_path):
    path = tmp_path / "word.txt"
    path.write_text("q" * 50 * 2**20)
    assert_one_clear_line(_run("anagrams", path), "a word of 52,428,800 characters")


def test_a_50_mb_single_line_cannot_be_scored(tmp_path):
    path = tmp_path / "line.txt"
    path.write_text("first line\n" + "w" * 50 * 2**20 + "\n")
    assert_one_clear_line(_run("scoring", path), str(path), "line 2 has 52,428,800 characters", "up to 65,536 bytes")


def test_a_long_line_within_the_limit_is_scored(tmp_path):
    line = "é" * 10_000  # 60,000 bytes of JSON once escaped: just under the limit
    path = tmp_path / "long.txt"
    path.write_text(line + "\n")
    ran = _run("scoring", path, "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["output"]["total"] == score_line(line)


@pytest.mark.parametrize(
    ("workload", "text"),
    [
        ("anagrams", "cat act " + "z" * 1000 + "\n"),  # a word of the longest length allowed
        ("scoring", "alpha\n\nbeta\nalpha\n"),
    ],
)
def test_standard_input(workload, text):
    ran = cli_here(
        "run", "sequential", "--workload", workload, "--input", "-", *FAST[workload], "--json", stdin=text.encode()
    )
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["correct"] is True and result["spec"]["input_path"] == "-" and result["label"] == "sequential"
    output = result["output"]
    if workload == "anagrams":
        assert output == {"act": 2, "cat": 2, "tac": 2}
    else:
        assert output["total"] == sum(score_line(line) for line in text.splitlines())


@pytest.mark.parametrize("workload", WORKLOADS)
def test_empty_or_binary_standard_input(workload):
    assert_one_clear_line(cli_here("run", "sequential", "-w", workload, "-i", "-", stdin=b""), "-: is empty")
    assert_one_clear_line(cli_here("run", "sequential", "-w", workload, "-i", "-", stdin=b"\xff\xfe"), "not UTF-8")


def test_text_without_words_names_standard_input():
    assert_one_clear_line(
        cli_here("run", "sequential", "-i", "-", stdin=b"... !!! ???\n"), "standard input has no words"
    )


def test_a_file_that_vanishes_mid_compare(tmp_path):
    """Deleted after the first of two runs: the second still measures the same text."""
    path = tmp_path / "text.txt"
    path.write_text("listen silent enlist\ncat act tac dog god\n")
    out = tmp_path / "vanish.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchbench",
            "compare",
            "--strategies",
            "sequential",
            "--input",
            str(path),
            "--scenario",
            "none",
            "--iterations",
            "2",
            "--warmup",
            "0",
            "--output",
            str(out),
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deleted_after = None
    for line in proc.stderr:  # one plain progress line per run (stderr is not a terminal)
        if line.startswith("[1/") and deleted_after is None:
            path.unlink()
            deleted_after = line
    proc.wait(timeout=120)
    assert deleted_after is not None and not path.exists()
    assert proc.returncode == 0
    document = json.loads(out.read_text())
    assert document["settings"]["complete"] is True and document["settings"]["input"] == str(path)
    runs = document["runs"]
    assert len(runs) == 2 and all(run["correct"] for run in runs)
    assert len({run["reference_digest"] for run in runs}) == 1


# --- values that would make a wait without end -------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["asyncio", "--retry", "fixed", "--set", "retry.delay=1e300"], "longer than a day"),
        (["sequential", "--retry", "fixed", "--set", "retry.delay=1e300"], "longer than a day"),
        (["threads", "--set", "retry.timeout=86401"], "longer than a day"),
        (["asyncio", "--set", "retry.cap=1e12"], "longer than a day"),
        (["asyncio", "-w", "scoring", "--set", "http_timeout=1e9"], "longer than a day"),
        (["asyncio", "--latency-scale", "1e300"], "longer than a day"),
        (["asyncio", "--cpu-ms", "1e12"], "longer than a day"),
    ],
)
def test_a_duration_beyond_a_day_is_a_usage_error(args, fragment):
    ran = cli_here("run", *args, "-t", "small")
    assert_one_clear_line(ran, fragment)
    assert ran.code == 2


def test_a_day_itself_is_accepted():
    from orchbench.harness.retry import FixedRetry

    assert FixedRetry(delay="86400").options["delay"] == 86400.0


# --- a temporary directory that cannot take a run ----------------------------------------------------------


def test_a_temporary_directory_that_takes_no_more_bytes_is_one_line():
    """The kernel refuses every byte written (a file size limit of 0, as a full disk refuses them)."""
    import os
    import resource
    import signal

    def no_room() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write is then an error, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    proc = subprocess.run(
        [sys.executable, "-m", "orchbench", "run", "sequential", "-t", "small", "--scenario", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=no_room,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "temporary directory" in proc.stderr and "TMPDIR" in proc.stderr


def test_a_run_process_that_cannot_write_its_result_says_so_by_its_status(tmp_path):
    from orchbench.harness import child
    from orchbench.types import RunSpec

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"spec": RunSpec("sequential", case="small", scenario="none").to_dict()}))
    (tmp_path / "file").write_text("x")
    assert child.main(str(spec), str(tmp_path / "file" / "result.json")) == child.EXIT_CANNOT_WRITE
