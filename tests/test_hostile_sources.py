"""Sources the user does not control: every read bounded, everything shown from them shown as text.

Servers here are real, on loopback (tests/hostile.py); size caps are met with answers and files just above them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from orchbench.errors import UsageError
from orchbench.results import document as results
from orchbench.support.console import safe_markup, safe_text
from orchbench.workloads.scoring import client
from orchbench.workloads.scoring.client import MAX_ANSWER_BYTES, MalformedResponse, SyncClient
from orchbench.workloads.scoring.server import get_json
from tests.cli_here import assert_one_clear_line, cli_here
from tests.helpers import cli, score_with_async_client
from tests.hostile import answer, http_server, tcp_server

OVERSIZED = b" " * MAX_ANSWER_BYTES + b'{"score": 1}'  # valid JSON, one cap plus a dozen bytes long
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31m[/usr/bin]\u202e"


# --- answers too long --------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-close"])
def test_an_answer_just_above_the_cap_is_a_failed_attempt_in_both_clients(length):
    with http_server(post=answer(OVERSIZED, length=length)) as url:
        sync = SyncClient(url)
        try:
            with pytest.raises(MalformedResponse, match="more than|exceeds"):
                sync.score("a line")
        finally:
            sync.close()
        with pytest.raises(MalformedResponse, match="more than|exceeds"):
            score_with_async_client(url, "a line")


def test_an_answer_at_the_cap_is_read(monkeypatch):
    monkeypatch.setattr(client, "MAX_ANSWER_BYTES", 64)
    body = b'{"score": 5}'.ljust(64)
    with http_server(post=answer(body, length=False)) as url:
        assert score_with_async_client(url, "x") == 5
        sync = SyncClient(url)
        try:
            assert sync.score("x") == 5
        finally:
            sync.close()


@pytest.mark.parametrize("path", ["/health", "/stats"])
def test_health_and_stats_answers_are_bounded_too(path):
    with http_server(health=answer(OVERSIZED, length=False), stats=answer(OVERSIZED)) as url:
        with pytest.raises(ValueError, match="more than|exceeds"):
            get_json(url, path)


def test_a_run_against_a_server_answering_too_much_counts_every_attempt(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("alpha\nbeta\n")
    with http_server(post=answer(OVERSIZED)) as url:
        ran = cli_here(
            "run",
            "sequential",
            "-w",
            "scoring",
            "--url",
            url,
            "-i",
            str(lines),
            "--retry",
            "fixed",
            "--set",
            "retry.max_attempts=2",
            "--set",
            "retry.delay=0",
            "--json",
        )
    assert ran.code == 1, ran.err
    result = json.loads(ran.out)
    assert result["complete"] is False and result["succeeded"] == 0
    assert result["attempts"] == 4  # two lines, two attempts each: each answer a failed attempt
    assert all("MalformedResponse" in f["error"] for f in result["failures"]) and len(result["failures"]) == 2


# --- saved files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "directory"])
def test_special_files_are_refused_without_reading_them(tmp_path, source):
    if source == "fifo":
        source = str(tmp_path / "fifo")
        os.mkfifo(source)  # nobody ever writes: opening it must not wait, reading it must not start
    elif source == "directory":
        source = str(tmp_path)
    with pytest.raises(UsageError, match="not a comparison file"):
        results.load(source)
    ran = cli_here("compare", "--against", source)
    assert_one_clear_line(ran, "not a comparison file")
    assert ran.code == 2


def test_a_file_just_above_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "MAX_FILE_BYTES", 4096)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"schema": results.SCHEMA, "pad": "x" * 4096}))
    with pytest.raises(UsageError, match="larger than"):
        results.load(path)


def test_a_deeply_nested_file_is_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert_one_clear_line(cli_here("report", str(path)), "nested too deeply")


# --- hostile bytes and markup ------------------------------------------------------------------------------


def test_safe_text_shows_controls_and_leaves_the_rest():
    assert safe_text(HOSTILE) == "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m[/usr/bin]\\u202e"
    assert safe_text("naïve café\u00e9 — ok") == "naïve café\u00e9 — ok"
    assert safe_text("bad\udcffbyte\nline") == "bad\\xffbyte\\nline"
    assert safe_markup("[/usr/bin] [bold]x") == "\\[/usr/bin] \\[bold]x"


@pytest.fixture(scope="module")
def hostile_document(tmp_path_factory) -> Path:
    """A real comparison file whose strategy name holds escape sequences and markup."""
    folder = tmp_path_factory.mktemp("hostile")
    ran = cli_here(
        "compare",
        "-s",
        "sequential",
        "-t",
        "small",
        "--scenario",
        "none",
        "-n",
        "1",
        "--warmup",
        "0",
        "-o",
        str(folder / "c.json"),
        "-q",
    )
    assert ran.code == 0, ran.err
    text = (folder / "c.json").read_text()
    text = text.replace('"sequential"', json.dumps("sequential" + HOSTILE))  # JSON-escaped, so it loads
    hostile = folder / f"x{HOSTILE.replace('/', '_')}.json"
    hostile.write_text(text)
    return hostile


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_report_shows_a_saved_files_hostile_names_as_text(hostile_document, fmt):
    ran = cli_here("report", str(hostile_document), "--format", fmt)
    assert ran.code == 0, ran.err
    assert "\x1b" not in ran.out + ran.err and "\x07" not in ran.out and "\u202e" not in ran.out
    assert "\\x1b]0;owned\\x07" in ran.out.replace("\n", "")


def test_errors_naming_a_hostile_file_are_one_line_of_text(tmp_path):
    ran = cli_here("report", str(tmp_path / f"missing{HOSTILE.replace('/', '_')}\nsecond line.json"))
    assert_one_clear_line(ran, "no such file", "\\x1b]0;owned")
    assert "\x1b" not in ran.err


def test_server_answers_shown_by_run_are_text(tmp_path):
    stats = json.dumps({HOSTILE: HOSTILE, "requests": 1})
    lines = tmp_path / "lines.txt"
    lines.write_text("one line\n")
    with http_server(post=answer(b'{"score": 3}'), stats=answer(stats)) as url:
        ran = cli_here("run", "sequential", "-w", "scoring", "--url", url, "-i", str(lines))
    assert "\x1b" not in ran.out + ran.err and "\x07" not in ran.out
    assert "\\x1b]0;owned" in ran.out


def test_markup_in_an_input_line_and_its_file_name_is_shown_as_written(tmp_path):
    folder = tmp_path / "in["
    (folder / "usr").mkdir(parents=True)
    path = folder / "usr" / "bin]"
    path.write_text("[/usr/bin]\n[bold]not bold\n")
    ran = cli_here("run", "sequential", "-w", "scoring", "-i", str(path), "--fault-rate", "1", "--retry", "none")
    assert ran.code == 1, ran.err  # every line fails (the fault rate), and the table says which
    assert "MarkupError" not in ran.err
    text = " ".join(ran.out.split())
    assert "in[/usr/bin]" in text.replace(" ", "")  # the title: the file's name as given
    assert "[/usr/bin]" in text and "[bold]not bold" in text  # the failed lines, as written


# --- addresses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:port"])
def test_an_unparsable_url_is_a_usage_line(url):
    ran = cli_here("run", "sequential", "-w", "scoring", "--url", url)
    assert_one_clear_line(ran, "--url", "not a valid URL")
    assert ran.code == 2


def test_a_ray_address_that_accepts_and_never_answers_is_one_line_after_the_connect_timeout(monkeypatch):
    from orchbench_ray import strategy as ray_strategy

    monkeypatch.setattr(ray_strategy, "CONNECT_TIMEOUT_S", 0.3)
    with tcp_server() as port:
        with pytest.raises(UsageError, match="did not answer within 0.3 s"):
            ray_strategy._check_reachable(f"127.0.0.1:{port}")
    with tcp_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")) as port:
        with pytest.raises(UsageError, match="answered something else"):
            ray_strategy._check_reachable(f"127.0.0.1:{port}")


@pytest.mark.slow  # imports ray and waits out the real connect timeout
def test_run_ray_against_a_silent_address_ends_with_one_line():
    pytest.importorskip("ray")
    with tcp_server() as port:
        ran = cli(
            "run",
            "ray",
            "-t",
            "small",
            "--set",
            f"address=127.0.0.1:{port}",
            env={"ORCHBENCH_PLUGINS": "orchbench-ray"},
        )
    assert ran.returncode == 2, ran.stderr
    assert [line for line in ran.stderr.splitlines() if line.strip()] == [ran.stderr.strip()]
    assert "did not answer within 5 s" in ran.stderr


def test_a_reference_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    from orchbench.harness.verify import load_reference

    fifo = tmp_path / "ref.json"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a reference file"):
        load_reference(fifo)
