"""``orchbench run``'s view: figures grouped, with units; a workload's stats formatted by the workload."""

from __future__ import annotations

import io
import re

from rich.console import Console

from orchbench.api import Workload
from orchbench.cli.run import render_result
from orchbench.support import units
from orchbench.workloads.scoring import ScoringWorkload
from tests.cli_here import cli_here
from tests.helpers import run_here


def test_units_read_as_people_write_them():
    assert [units.duration(s) for s in (0.000412, 0.0752, 3.4567, 754.2, None)] == [
        "412 µs",
        "75.2 ms",
        "3.46 s",
        "12 min 34 s",
        "n/a",
    ]
    assert units.tally({"200": 508, "500": 5, "503": 9}) == "200 × 508 · 500 × 5 · 503 × 9"
    assert units.count(20507) == "20,507" and units.plural(1, "retry", "retries") == "1 retry"
    assert [units.mib(n) for n in (1536 * units.MIB, 512 * 2**10, None)] == ["1,536.0 MiB", "512.0 KiB", "n/a"]
    assert units.figure("cpu_s", 0.258770516) == "259 ms"
    assert units.figure("by_kind", {"a": 2}) == "a × 2"
    assert units.figure("limiter", {"start": 4, "max_seen": 12.5}) == "start 4 · max seen 12.5"


def test_the_default_formats_every_stat_and_scoring_groups_its_counters():
    stats = {
        "requests": 522,
        "served": 508,
        "in_flight": 0,
        "max_in_flight": 64,
        "refused": 0,
        "dropped": 2,
        "malformed": 0,
        "hung": 1,
        "max_connections_open": 48,
        "by_status": {"200": 508, "500": 5, "503": 9},
        "unique_lines": 500,
        "cpu_s": 0.258770516,
        "new_counter": 7,
    }
    default = dict(Workload.format_stats(stats))
    assert default["by status"] == "200 × 508 · 500 × 5 · 503 × 9" and default["cpu"] == "259 ms"
    assert len(default) == len(stats)  # one line per stat: nothing hidden
    scoring = dict(ScoringWorkload.format_stats(stats))
    assert scoring["requests"] == "522 for 500 distinct lines"
    assert scoring["answers"] == "200 × 508 · 500 × 5 · 503 × 9"
    assert scoring["trouble"] == "dropped 2 · hung 1" and scoring["server CPU"] == "259 ms"
    assert scoring["in flight"] == "at most 64" and scoring["connections"] == "at most 48 open at once"
    assert scoring["new counter"] == "7"  # a counter it does not know still shows


def test_run_groups_its_figures_with_units(monkeypatch):
    result = run_here("sequential", workload="anagrams", case="small")
    console = Console(file=io.StringIO(), width=100, record=True)
    monkeypatch.setattr("orchbench.support.console.make_console", lambda **_: console)
    render_result("sequential", result, "words")
    text = console.export_text()
    groups = [line.split()[0] for line in text.splitlines()[1:] if line[:1].strip()]
    # "notes" only if the instrument had something to say: another test's listener may fill its queue meanwhile
    assert [g for g in groups if g != "notes"] == [
        "output",
        "time",
        "attempts",
        "resources",
        "limit",
        "strategy",
        "account",
    ]
    assert re.search(r"wall\s+\d+(\.\d+)? (µs|ms|s)\b", text) and "correct" in text

    result.measure_notes = ["the kernel dropped 3 connection attempts while the run was timed"]
    render_result("sequential", result, "words")
    assert re.search(r"notes\s+measuring\s+the kernel dropped 3 connection attempts", console.export_text())


def test_run_on_the_scoring_server_shows_its_stats_formatted():
    ran = cli_here("run", "asyncio", "--workload", "scoring", "--test-case", "small")
    assert ran.code == 0, ran.err
    assert re.search(r"answers\s+200 × \d+", ran.out), ran.out
    assert re.search(r"server CPU\s+\d+(\.\d+)? (ms|s)\b", ran.out)
    assert "by_status" not in ran.out and "{" not in ran.out and "cpu_s" not in ran.out


def test_where_a_run_went_is_the_workloads_to_say_not_an_option_name():
    """The server a run is shown (and recorded) against comes from the workload's declared ``service_host``:
    an option of any name may hold the address, and an option merely called ``url`` says nothing by itself."""
    from collections.abc import Mapping
    from typing import Any

    from orchbench.cli.run import where_run

    class Queue(Workload):
        name = "queue"

        @classmethod
        def service_host(cls, options: Mapping[str, Any]) -> str | None:
            return options.get("broker")

    spec = {"scenario": "none", "workload_options": {"broker": "mq.internal:5672", "url": "http://x.example"}}
    assert where_run(spec, Queue) == "server mq.internal:5672"
    assert where_run(spec, Workload) == "scenario none"  # a `url` option of a workload that declares nothing
    given = {"scenario": "none", "workload_options": {"url": "http://user:secret@10.0.0.5:8080/score"}}
    assert where_run(given, ScoringWorkload) == "server 10.0.0.5:8080"  # the host, never the credentials


def test_one_item_is_counted_in_the_singular_and_no_line_is_left_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # every figure on its label's line
    one = tmp_path / "one.txt"
    one.write_text("cat\n")
    ran = cli_here("run", "sequential", "-i", str(one), "--scenario", "none")
    assert ran.code == 0, ran
    lines = [" ".join(line.split()) for line in ran.out.splitlines()]
    assert any(line.startswith("items 1 word, 1 distinct") for line in lines), ran.out
    assert not any(line.split()[-1:] == ["settings"] or "settings ·" in line for line in lines)  # nothing before "·"
    assert "strategy settings at most 1 in flight" in lines
    counted = units.counted
    assert (counted(1, "words"), counted(2, "words"), counted(1, "lines"), counted(0, "items")) == (
        "1 word",
        "2 words",
        "1 line",
        "0 items",
    )
