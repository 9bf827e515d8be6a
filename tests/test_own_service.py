"""A user's own scoring service (tests/own_service.py, the standard library's http.server, its own score function):
reached with the original protocol, verified through a recorded reference, never called wrong without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.own_service import OwnService, own_score

LINES = [f"line number {i % 23} of a text the service scores its own way" for i in range(40)] + ["", "   ", "last"]
TEXT = "\n".join(LINES) + "\n"
STRATEGIES = ("sequential", "threads", "asyncio", "processes", "hybrid")


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("own") / "lines.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def running_service():
    with OwnService() as running:
        yield running


@pytest.fixture
def service(running_service: OwnService) -> OwnService:
    running_service.forget()  # every test meets the service's first-request 503s
    return running_service


@pytest.fixture(scope="module")
def recording(running_service: OwnService, text: str) -> dict:
    """The recorded reference's path, and the paths and content types the service saw while it was recorded
    (tests run in any order: what other tests sent is forgotten first)."""
    out = Path(text).with_name("ref.json")
    running_service.forget()
    proc = cli("reference", "record", "-w", "scoring", "--url", running_service.url, "--input", text, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with running_service.lock:
        return {"path": str(out), "paths": set(running_service.paths), "types": set(running_service.content_types)}


@pytest.fixture(scope="module")
def reference(recording: dict) -> str:
    return recording["path"]


def test_a_recorded_reference_holds_the_services_own_answers(reference: str, recording: dict):
    saved = json.loads(Path(reference).read_text())
    assert saved["schema"] == "orchbench.reference/1" and saved["workload"] == "scoring"
    assert saved["output"]["scores"] == [own_score(line) for line in LINES]  # blank lines were sent and scored
    assert saved["output"]["total"] == sum(own_score(line) for line in LINES)
    assert saved["options"] == {"path": "", "body": "raw", "score_field": "score", "send_blank": True}
    assert recording["paths"] == {"/"} and "text/plain; charset=utf-8" in recording["types"]


def test_run_is_correct_against_the_recorded_reference(service, reference: str, text: str):
    proc = cli(
        "run", "asyncio", "-w", "scoring", "--url", service.url, "--input", text, "--reference", reference, "--json"
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["correct"] is True and result["complete"] and result["retries"] > 0  # the 503s were retried


@pytest.mark.slow  # a run of every strategy: ~20 s on 2 shared cores
def test_every_strategy_is_correct_against_the_recorded_reference(service, reference: str, text: str, tmp_path: Path):
    saved = tmp_path / "c.json"
    proc = cli(
        "compare",
        "-s",
        *STRATEGIES,
        "-w",
        "scoring",
        "--url",
        service.url,
        "--input",
        text,
        "--reference",
        reference,
        "-n",
        "1",
        "--warmup",
        "0",
        "-q",
        "-o",
        str(saved),
    )
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(saved.read_text())["runs"]
    assert sorted(r["label"] for r in runs) == sorted(STRATEGIES)
    assert all(r["correct"] is True for r in runs), [(r["label"], r["error"], r["mismatch"]) for r in runs]
    assert "agreement" not in json.loads(saved.read_text())["settings"]  # checked against the reference instead


def test_without_a_reference_a_run_is_unverified_never_wrong(service, text: str):
    proc = cli("run", "asyncio", "-w", "scoring", "--url", service.url, "--input", text)
    assert proc.returncode == 0, proc.stderr
    assert "unverified" in proc.stdout and "WRONG" not in proc.stdout
    assert f"server 127.0.0.1:{service.url.rsplit(':', 1)[1]}" in proc.stdout  # the host, not a scenario
    assert "limit" in proc.stdout and "unknown" in proc.stdout


def test_a_reference_of_another_input_is_refused_in_one_line(service, reference: str, tmp_path: Path):
    other = tmp_path / "other.txt"
    other.write_text("something else\n", encoding="utf-8")
    proc = cli("run", "asyncio", "-w", "scoring", "--url", service.url, "--input", str(other), "--reference", reference)
    assert proc.returncode == 2 and "recorded for another input" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_reference_that_differs_is_wrong_and_shows_the_values(service, reference: str, text: str, tmp_path: Path):
    doctored = json.loads(Path(reference).read_text())
    doctored["output"]["scores"][2] += 1
    doctored["output"]["total"] += 1
    bad = tmp_path / "doctored.json"
    bad.write_text(json.dumps(doctored))
    proc = cli("run", "threads", "-w", "scoring", "--url", service.url, "--input", text, "--reference", str(bad))
    assert proc.returncode == 1 and "WRONG" in proc.stdout
    expected = doctored["output"]["scores"][2]
    assert "2 values differ" in proc.stdout and f"scores[2]: {expected} expected, {expected - 1} actual" in proc.stdout


def test_recording_fails_and_writes_nothing_when_an_item_keeps_failing(text: str, tmp_path: Path):
    out = tmp_path / "ref.json"
    with OwnService(always_fail=(LINES[5],)) as failing:
        proc = cli(
            "reference",
            "record",
            "-w",
            "scoring",
            "--url",
            failing.url,
            "--input",
            text,
            "-o",
            str(out),
            "--set",
            "retry.max_attempts=2",
        )
    assert proc.returncode == 2 and "no reference written" in proc.stderr and "HTTP 500" in proc.stderr
    assert not out.exists() and list(tmp_path.glob(".ref.json*")) == []


def test_embedded_server_options_with_a_url_are_an_error_naming_the_option(service):
    proc = cli("run", "asyncio", "-w", "scoring", "--url", service.url, "--set", "rate_503=0.9")
    assert proc.returncode == 2 and "rate_503" in proc.stderr and "embedded server" in proc.stderr
    proc = cli("run", "asyncio", "-w", "scoring", "--url", service.url, "--scenario", "original")
    assert proc.returncode == 2 and "--scenario original" in proc.stderr and "embedded server" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_secret_header_comes_from_the_environment_and_is_never_saved(text: str, tmp_path: Path):
    with OwnService(token="s3cret-token") as guarded:
        refused = cli(
            "run",
            "sequential",
            "-w",
            "scoring",
            "--url",
            guarded.url,
            "--input",
            text,
            "--set",
            "headers=Authorization=Bearer s3cret-token",
        )
        assert refused.returncode == 2 and "environment variable" in refused.stderr
        proc = cli(
            "run",
            "asyncio",
            "-w",
            "scoring",
            "--url",
            guarded.url,
            "--input",
            text,
            "--json",
            "--set",
            "headers=Authorization=$OWN_TOKEN",
            env={"OWN_TOKEN": "Bearer s3cret-token"},
        )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["complete"] and "s3cret-token" not in proc.stdout  # the result as saved


def test_the_client_adapts_to_another_path_body_and_score_field(text: str):
    with OwnService() as service:
        proc = cli(
            "run",
            "threads",
            "-w",
            "scoring",
            "--url",
            service.url + "/api",
            "--input",
            text,
            "--set",
            "path=v1/score",
            "--set",
            "body=text",
            "--json",
        )
    assert proc.returncode == 0, proc.stderr
    assert service.paths == {"/api/v1/score"} and "application/json" in service.content_types
    assert json.loads(proc.stdout)["complete"]  # the service read the JSON body as a line: it still answered


def test_compare_names_the_strategies_that_agree(service, text: str, tmp_path: Path):
    saved = tmp_path / "c.json"
    proc = cli(
        "compare",
        "-s",
        "sequential",
        "asyncio",
        "-w",
        "scoring",
        "--url",
        service.url,
        "--input",
        text,
        "-n",
        "1",
        "--warmup",
        "0",
        "-q",
        "-o",
        str(saved),
        "-f",
        "markdown",
    )
    assert proc.returncode == 0, proc.stderr
    assert "all 2 strategies agree" in proc.stdout
    assert json.loads(saved.read_text())["settings"]["agreement"]["consensus"] == ["asyncio", "sequential"]
