from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from orchbench.errors import UsageError
from orchbench.harness.planner import plan
from orchbench.results.document import load, make_document, save
from orchbench.results.figures import build_report
from orchbench.results.stats import FASTER
from orchbench.support.units import MIB
from orchbench.types import RunResult, RunSpec
from orchbench.views.columns import columns
from orchbench.views.export import CSV_COLUMNS, to_csv, to_json
from orchbench.views.markdown import to_markdown
from orchbench.views.terminal import render_table
from orchbench.workloads.anagrams.metrics import render_metrics


def _result(strategy: str, wall: float, **fields) -> RunResult:
    spec = RunSpec(strategy=strategy, workload="anagrams", case="medium", scenario="fast").to_dict()
    base = dict(
        items=20,
        unique_items=18,
        succeeded=20,
        complete=True,
        correct=True,
        wall_s=wall,
        limit_s=0.5,
        cpu_percent=40.0,
        peak_rss=64 * MIB,
        sample_period_s=0.05,
    )
    return RunResult(spec=spec, **(base | fields))


def _document(walls: dict[str, list[float]], tweak=None, warmup: int = 1, workload: str = "anagrams") -> dict:
    """A comparison of the given measured walls; ``tweak(strategy, round)`` returns field overrides."""
    strategies = list(walls)
    order = plan(strategies, iterations=len(walls[strategies[0]]), warmup=warmup)
    pairs = []
    for slot in order:
        extra = {} if slot.warmup or tweak is None else tweak(slot.strategy, slot.round) or {}
        wall = 99.0 if slot.warmup else walls[slot.strategy][slot.round - 1]
        pairs.append((slot, _result(slot.strategy, wall, **extra)))
    settings = {
        "workload": workload,
        "case": "medium",
        "scenario": "fast",
        "iterations": len(walls[strategies[0]]),
        "warmup": warmup,
        "baseline": strategies[0],
        "unit": "words",
    }
    return make_document(settings, order, pairs, env={"cpu_model": "Test CPU", "cpu_count": 8})


WALLS = {
    "sequential": [4.0, 4.4, 4.1, 4.3, 3.9],
    "threads": [1.0, 1.2, 0.9, 1.1, 1.3],
    "broken": [0.5, 0.6, 0.4, 0.55, 0.45],
}


def _broken_round_two(strategy, rnd):
    if strategy == "broken" and rnd == 2:
        return {"succeeded": 17, "failed": 3, "complete": False, "correct": False}
    return None


def _rows(report):
    return {row.strategy: row for row in report.rows}


def test_cpu_floor_and_cpu_efficiency_by_hand():
    # each run: 0.8 s of its own CPU and 0.4 s of its service's on 2 cores: a 0.6 s CPU floor
    doc = _document(WALLS, lambda strategy, rnd: {"cpu_s": 0.8, "service_cpu_s": 0.4, "cores": 2})
    report = build_report(doc)
    threads = _rows(report)["threads"]
    assert threads.cpu_floor_s == pytest.approx(0.6)
    assert threads.cpu_efficiency == pytest.approx(0.6 / 1.1)
    header = [c.header for c in columns(report)]
    assert "CPU efficiency" in header and "Efficiency" in header
    record = next(r for r in json.loads(to_json(report))["results"] if r["strategy"] == "threads")
    assert record["cpu_efficiency"] == pytest.approx(0.6 / 1.1)
    plain = build_report(_document(WALLS))  # runs without a measured CPU: no such column
    assert "CPU efficiency" not in [c.header for c in columns(plain)]


def test_a_run_is_timed_when_it_ended_without_error_over_a_window():
    timed = [RunResult(spec={}, wall_s=1.0, complete=True), RunResult(spec={}, wall_s=1.0, failed=3)]
    untimed = [RunResult(spec={}, wall_s=1.0, error="boom"), RunResult(spec={}, complete=True)]
    assert all(r.timed for r in timed) and not any(r.timed for r in untimed)


def test_figures_per_strategy_by_hand():
    rows = _rows(build_report(_document(WALLS, _broken_round_two)))
    threads = rows["threads"]
    assert (threads.runs, threads.ok_runs, threads.correct_runs) == (5, 5, 5)
    w = threads.wall
    assert (w.median, w.q1, w.q3, w.min, w.max) == pytest.approx((1.1, 1.0, 1.2, 0.9, 1.3))
    assert threads.throughput == pytest.approx(20 / 1.1)
    assert threads.success_rate == 1.0
    assert threads.cpu_percent == 40.0 and threads.peak_rss == 64 * MIB
    assert threads.efficiency == pytest.approx(0.5 / 1.1)
    assert threads.speedup.ratio == pytest.approx(4.1 / 1.1)
    assert threads.speedup.low <= threads.speedup.ratio <= threads.speedup.high
    assert threads.comparison.verdict == FASTER
    broken = rows["broken"]
    assert (broken.runs, broken.ok_runs, broken.correct_runs) == (5, 4, 4)
    assert broken.success_rate == pytest.approx(97 / 100)
    assert broken.problems == {"incomplete": 1}
    assert rows["sequential"].speedup is None and rows["sequential"].baseline


def test_warmups_do_not_count():
    rows = _rows(build_report(_document(WALLS, warmup=3)))
    assert rows["sequential"].wall.max == 4.4 and rows["sequential"].runs == 5


def test_a_flagged_strategy_is_never_the_winner_even_when_fastest():
    report = build_report(_document(WALLS, _broken_round_two))
    assert [r.strategy for r in report.rows] == ["broken", "threads", "sequential"]  # fastest first
    assert report.winner == "threads"
    assert _rows(report)["broken"].flagged and not _rows(report)["broken"].winner
    assert _rows(report)["threads"].relative == 1.0  # relative to the winner
    assert any("broken" in note for note in report.notes)


def test_without_any_clean_strategy_there_is_no_winner():
    report = build_report(_document(WALLS, lambda s, r: {"correct": False} if r == 1 else None))
    assert report.winner is None
    assert any("No winner" in note for note in report.notes)


def test_runs_with_a_harness_error_count_but_are_not_timed():
    report = build_report(
        _document(WALLS, lambda s, r: {"error": "worker died", "wall_s": 0.0} if s == "threads" and r == 1 else None)
    )
    threads = _rows(report)["threads"]
    assert threads.runs == 5 and len(threads.walls) == 4 and threads.problems == {"failed": 1}


def test_baseline_choice():
    doc = _document(WALLS)
    assert build_report(doc).baseline == "sequential"
    assert build_report(doc, baseline="threads").baseline == "threads"
    with pytest.raises(UsageError, match="baseline strategy 'nope'"):
        build_report(doc, baseline="nope")


def test_documents_pool_but_only_for_the_same_workload():
    doc = _document(WALLS)
    assert _rows(build_report([doc, doc]))["threads"].runs == 10
    with pytest.raises(UsageError, match="different workloads"):
        build_report([doc, _document(WALLS, workload="scoring")])


def test_too_few_runs_for_significance_is_said():
    report = build_report(_document({"a": [2.0, 2.1], "b": [1.0, 1.1]}))
    assert any("at least 4 iterations" in note for note in report.notes)
    assert _rows(report)["b"].comparison.verdict == "no significant difference"


def test_what_the_instrument_noted_is_said_once_per_strategy_and_note():
    dropped = "the kernel dropped 12 connection attempts while the run was timed"

    def noted(strategy, rnd):
        return {"measure_notes": [dropped]} if strategy == "threads" and rnd in (2, 4) else None

    said = [note for note in build_report(_document(WALLS, noted)).notes if "connection attempts" in note]
    assert said == [f"threads, 2 of 5 runs: {dropped}."]


def test_report_round_trips_through_the_results_file(tmp_path):
    doc = _document(WALLS, _broken_round_two)
    loaded = load(save(tmp_path / "c.json", doc))
    before, after = build_report(doc), build_report(loaded)
    assert to_csv(before) == to_csv(after)
    assert to_markdown(before) == to_markdown(after)
    assert to_json(before) == to_json(after)


def test_csv_has_a_header_and_one_row_per_strategy():
    text = to_csv(build_report(_document(WALLS, _broken_round_two)))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(text.splitlines()[0].split(",")) == CSV_COLUMNS
    assert [r["strategy"] for r in rows] == ["broken", "threads", "sequential"]
    threads = next(r for r in rows if r["strategy"] == "threads")
    assert float(threads["median_s"]) == pytest.approx(1.1) and threads["winner"] == "True"
    assert float(threads["peak_rss_mib"]) == 64.0 and threads["peak_uss_mib"] == ""  # USS not measured here
    assert next(r for r in rows if r["strategy"] == "sequential")["speedup"] == ""  # the baseline


def test_markdown_has_a_header_and_one_row_per_strategy():
    text = to_markdown(build_report(_document(WALLS, _broken_round_two)))
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 3
    assert "Mean ± σ [s]" in table[0] and "Relative" in table[0] and "Throughput [words/s]" in table[0]
    assert {line.count(" | ") for line in table[:1] + table[2:]} == {table[0].count(" | ")}
    assert "threads (winner)" in text and "broken (1 incomplete)" in text
    assert "double-counts" in text and "every 50 ms" in text


def test_json_is_hyperfine_like():
    data = json.loads(to_json(build_report(_document(WALLS))))
    first = data["results"][0]
    for key in ("strategy", "mean", "stddev", "median", "min", "max", "relative", "times"):
        assert key in first
    assert data["winner"] == "broken" and data["baseline"] == "sequential"
    assert sorted(data["results"][1]["times"]) == sorted(WALLS["threads"])


def test_terminal_table_marks_the_flagged_strategy_red():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=250)
    render_table(build_report(_document(WALLS, _broken_round_two)), console)
    lines = out.getvalue().splitlines()
    assert "\x1b[31m" in next(line for line in lines if "broken" in line)
    assert "\x1b[31m" not in next(line for line in lines if "threads" in line)
    assert "sampled every 50 ms" in out.getvalue()


def test_metrics_view_shows_the_original_figures():
    console = Console(file=io.StringIO(), width=200, record=True)
    render_metrics([_result("threads", 2.0), _result("sequential", 8.0, correct=False)], console, unit="words")
    text = console.export_text()
    for fragment in (
        "Runtime [s]",
        "Success rate",
        "Throughput [words/s]",
        "Peak memory [MiB]",
        "CPU utilisation",
        "10.0",
        "64.0",
        "40 %",
        "NO",
        "double-counts",
    ):
        assert fragment in text


def _terminal_text(report, width: int, wide: bool = False) -> str:
    console = Console(file=io.StringIO(), width=width, record=True)
    render_table(report, console, wide=wide)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100, 120])
def test_terminal_table_fits_the_terminal_and_cuts_no_number(width):
    walls = {
        "sequential": [40.0, 44.1, 41.2, 43.3, 39.9],
        "threads": [0.9876, 1.2, 0.9, 1.1, 1.3],
        "broken": [0.5, 0.6, 0.4, 0.55, 0.45],
        "hybrid": [12.5, 13.0, 12.25, 13.5, 12.75],
    }
    report = build_report(_document(walls, _broken_round_two))
    text = _terminal_text(report, width)
    assert max(map(len, text.splitlines())) <= width
    lines = [line.split() for line in text.splitlines()]
    median = next(c for c in columns(report) if c.header.startswith("Median"))
    speedup = next(c for c in columns(report) if c.header.startswith("Speed-up"))
    for row, cell, ratio in zip(report.rows, median.cells, speedup.cells, strict=True):
        line = next(words for words in lines if words and words[0] == row.strategy)  # the name, whole
        assert cell in line  # the median, whole, on the strategy's line
        assert ratio.split()[0] in line
    assert median.cells == ["0.50", "1.10", "12.75", "41.20"]  # one unit (s), same precision for all
    for header in ("Correct", "Success", "Verdict", "Min", "Max", "Efficiency", "Peak RSS"):
        assert header in text  # the other figures follow in a second table, not dropped


def test_a_long_strategy_name_stays_whole_on_its_line():
    name = "a-strategy-with-a-very-long-name-indeed"
    report = build_report(_document({"sequential": [4.0, 4.4, 4.1], name: [1.0, 1.2, 0.9]}))
    text = _terminal_text(report, 80).split("•")[0]  # the tables, not the notes under them
    assert max(map(len, text.splitlines())) <= 80
    assert sum(line.startswith(name) for line in text.splitlines()) >= 2  # main and details tables, whole


def test_wide_shows_every_column_in_one_table_and_a_wide_console_needs_no_flag():
    report = build_report(_document(WALLS))
    wide = _terminal_text(report, 80, wide=True)
    assert "Details" not in wide and max(map(len, wide.splitlines())) > 80
    header = next(line for line in wide.splitlines() if "Strategy" in line)
    assert "Median" in header and "Throughput" in header  # one table, every header on one line
    assert "Details" not in _terminal_text(report, 250)
    assert "Details" in _terminal_text(report, 100)


def test_metrics_view_fits_80_columns_without_cutting_a_number():
    console = Console(file=io.StringIO(), width=80, record=True)
    runs = [_result("a-strategy-with-a-long-name", 12.3456), _result("threads", 2.0, peak_rss=1234.5 * MIB)]
    render_metrics(runs, console, unit="words")
    text = console.export_text().split("•")[0]
    assert max(map(len, text.splitlines())) <= 80
    for fragment in ("12.346", "2.000", "1234.5", "1.6", "10.0"):
        assert fragment in text.split()


def test_figures_of_an_incomplete_run_are_marked_and_never_exceed_the_possible():
    """A run that gave up on an item ends early: its limit (the time for every item) can exceed its wall. Its
    efficiency is an upper bound, at most 100 %, its throughput counts only the items that succeeded, and every
    rendering marks those figures."""
    from orchbench.views.html import to_html

    def gave_up(strategy: str, _round: int) -> dict | None:
        if strategy == "broken":
            return {"complete": False, "succeeded": 19, "correct": None, "limit_s": 0.5}
        return None

    report = build_report(_document({"sequential": [4.0, 4.2, 4.1], "broken": [0.45, 0.44, 0.46]}, gave_up))
    broken = next(r for r in report.rows if r.strategy == "broken")
    assert broken.partial and broken.efficiency == 1.0  # 0.5 / 0.45 would be 111.1 %
    assert broken.throughput == pytest.approx(19 / 0.45)  # not 20 / 0.45: the failed item is not work done
    assert RunResult(spec={}, items=20, succeeded=19, wall_s=2.0, limit_s=3.0).efficiency == 1.0
    assert RunResult(spec={}, items=20, succeeded=20, complete=True, wall_s=2.0).throughput == 10.0

    markdown = to_markdown(report)
    assert "100.0 %†" in markdown and "42.2†" in markdown and "111.1" not in markdown
    assert "† From runs that gave up on some items" in markdown
    html = to_html(report, [_document({"sequential": [4.0, 4.2, 4.1], "broken": [0.45, 0.44, 0.46]}, gave_up)])
    assert "100.0 %†" in html and "111.1" not in html
    text = _terminal_text(report, 80)
    assert "100.0 %†" in text and "42.2†" in text
    [row] = [r for r in csv.DictReader(io.StringIO(to_csv(report))) if r["strategy"] == "broken"]
    assert row["partial"] == "True" and float(row["efficiency"]) == 1.0
    assert float(row["throughput_per_s"]) == pytest.approx(19 / 0.45)
    sequential = next(r for r in csv.DictReader(io.StringIO(to_csv(report))) if r["strategy"] == "sequential")
    assert sequential["partial"] == "False"
