"""A service's /stats, as a run shows and saves it: only what changed during the run, and never a reason for a run
whose lines scored to fail — whatever /stats answers. Real servers on loopback."""

from __future__ import annotations

import json
import socket

import pytest

from orchbench.workloads.scoring import ScoringWorkload, service_stats
from orchbench.workloads.scoring.server import ServerProcess
from tests.helpers import cli
from tests.hostile import Request, answer, honest_score, http_server, raw_server, reply, trickle

LINES = "alpha\nbeta\ngamma\n"


@pytest.fixture
def lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text(LINES)
    return str(path)


def run_json(url: str, lines: str, strategy: str = "sequential") -> dict:
    proc = cli("run", strategy, "-w", "scoring", "--url", url, "--input", lines, "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_service_that_runs_on_shows_only_this_runs_counts(lines):
    with ServerProcess("none") as server:
        first = run_json(server.url, lines)["workload_stats"]
        second = run_json(server.url, lines, "asyncio")["workload_stats"]
        total = server.stats()
    assert total["requests"] == 6  # the service's all-time count
    assert first["requests"] == second["requests"] == 3 and second["served"] == 3
    assert second["by_status"] == {"200": 3}
    assert "unique_lines" not in second and "unique_lines" in second["note"]  # this run's is unknown: seen before
    assert first["unique_lines"] == 3  # the first run met a service that had seen nothing


def test_the_difference_follows_each_kind_of_figure():
    before = {"requests": 10, "by_status": {"200": 9, "503": 1}, "max_in_flight": 8, "in_flight": 0, "cpu_s": 1.5}
    after = {"requests": 14, "by_status": {"200": 12, "503": 2}, "max_in_flight": 12, "in_flight": 1, "cpu_s": 2.0}
    stats, notes = service_stats.difference(before, after)
    assert stats == {
        "requests": 4,
        "by_status": {"200": 3, "503": 1},
        "max_in_flight": 12,
        "in_flight": 1,
        "cpu_s": 0.5,
    }
    assert notes == []
    stats, notes = service_stats.difference(before, {**after, "max_in_flight": 8})
    assert "max_in_flight" not in stats and "peak of 8 came before" in notes[0]


def test_counters_that_go_back_mean_a_restart_and_are_shown_as_given():
    stats, notes = service_stats.difference({"requests": 50}, {"requests": 3})
    assert stats == {"requests": 3} and "went back" in notes[0]


# --- /stats answering anything ---------------------------------------------------------------------------------

GARBAGE = {
    "not JSON": answer(b"<html>oops</html>"),
    "a JSON list": answer(b"[1, 2, 3]"),
    "nested deeply": answer(b"[" * 50_000 + b"]" * 50_000),
    "wrong types": answer(json.dumps({"requests": "lots", "by_status": 5, "served": [1], "x": {"y": 1}}).encode()),
    "not finite": answer(b'{"requests": 1e999, "served": NaN}'),
    "an error status": answer(b"{}", status=500),
    "bytes beyond UTF-8": answer(b'{"requests": 1, "\xff\xfe": 2}'),
    "thousands of keys": answer(json.dumps({f"k{i}": i for i in range(5000)}).encode()),
}


@pytest.mark.adversarial("answers that fail or pass wrongly")
@pytest.mark.parametrize("kind", GARBAGE, ids=list(GARBAGE))
def test_a_stats_answer_of_any_kind_never_fails_a_run_whose_lines_scored(lines, kind):
    with http_server(post=honest_score, stats=GARBAGE[kind]) as url:
        saved = run_json(url, lines)
        table = cli("run", "sequential", "-w", "scoring", "--url", url, "--input", lines, timeout=120)
    assert saved["complete"] and saved["failed"] == 0
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
    stats = saved["workload_stats"]
    assert "note" in stats and len(stats) <= service_stats.MAX_KEYS + 1
    assert "note" in table.stdout


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize("strategy", [pytest.param("sequential", marks=pytest.mark.slow), "asyncio"])
def test_a_trickled_stats_answer_does_not_hold_the_run(lines, strategy):
    def respond(conn: socket.socket, request: Request) -> None:
        if request.target.endswith("/stats"):
            trickle(conn, reply(200, b'{"requests": 1}' + b" " * 200), 0.1)  # ~25 s in all
        else:
            conn.sendall(reply(200, b'{"score": 1}'))

    with raw_server(respond) as url:
        saved = run_json(url, lines, strategy)
    assert saved["complete"] and "no whole answer within" in saved["workload_stats"]["note"]


def test_saved_stats_of_any_shape_are_shown_as_text():
    lines = ScoringWorkload.format_stats({"requests": "lots", "by_status": 5, "served": 2, "in_flight": None})
    shown = dict(lines)
    assert shown["served"] == "2 with a valid score" and shown["requests"] == "lots" and shown["by status"] == "5"
