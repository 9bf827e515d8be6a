"""Every table orchbench prints fits the terminal from 80 columns up, with every name and number whole."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import pytest
from rich.console import Console

from orchbench.cli.sweep import _print_sweep
from orchbench.results.fairness import TUNING_HEADER
from orchbench.results.figures import build_report
from orchbench.views.columns import columns
from orchbench.views.plots import SweepPoint
from orchbench.views.table import Column, natural_width, print_table, stack
from orchbench.views.terminal import render_table
from orchbench.views.tuning import render_tuning
from orchbench.workloads.anagrams.metrics import render_metrics
from tests.test_report import MIB, _broken_round_two, _document, _result

WIDTHS = [80, 100, 200]


def rendered(draw: Callable[[Console], None], width: int) -> str:
    console = Console(file=io.StringIO(), width=width, record=True)
    draw(console)
    return console.export_text()


def assert_whole(text: str, width: int, cells: Iterable[str], numbers: Iterable[str] = ()) -> None:
    """No line is wider than the terminal; every word of ``cells`` stands whole on a line, and so does every
    number (a cell that is one figure, e.g. ``3 / 3`` or ``100.0 %``) as a whole."""
    lines = text.splitlines()
    assert max(map(len, lines)) <= width, "\n".join(line for line in lines if len(line) > width)
    tokens = {token for line in lines for token in line.split()}
    for cell in cells:
        for word in cell.split():
            assert word in tokens, (word, text)
    for number in numbers:
        assert any(number in line for line in lines), (number, text)


def _comparison(names: dict[str, list[float]] | None = None):
    walls = names or {
        "sequential": [40.0, 44.1, 41.2, 43.3, 39.9],
        "threads": [0.9876, 1.2, 0.9, 1.1, 1.3],
        "original-design": [0.5, 0.6, 0.4, 0.55, 0.45],
        "broken": [0.3, 0.35, 0.32, 0.31, 0.33],
        "hybrid": [12.5, 13.0, 12.25, 13.5, 12.75],
    }
    return build_report(_document(walls, _broken_round_two))


@pytest.mark.parametrize("width", WIDTHS)
def test_comparison_tables_fit_and_keep_every_name_and_number_whole(width):
    report = _comparison()
    text = rendered(lambda console: render_table(report, console), width)
    shown = [c for c in columns(report) if c.place != "export"]
    assert_whole(
        text,
        width,
        cells=[c.header for c in shown] + [cell for c in shown if not c.numeric for cell in c.cells],
        numbers=[cell for c in shown if c.numeric for cell in c.cells],
    )
    assert "Mean ± σ and Relative are not shown here" in text  # what the terminal leaves out, and where it is
    assert ("Details" in text) == (natural_width(shown) > width)  # one table when it fits side by side


def test_at_80_columns_the_details_follow_the_main_table_with_no_header_broken_inside_a_word():
    report = _comparison()
    text = rendered(lambda console: render_table(report, console), 80)
    assert "Details" in text and "Details (continued)" not in text  # two spaces between columns: it fits
    assert sum(line.split()[:1] == ["Strategy"] for line in text.splitlines()) == 2
    for header in ("Throughput", "[words/s]", "Efficiency"):
        assert header in text.split()


def test_a_name_longer_than_half_the_terminal_folds_with_every_character_kept():
    name = "a-strategy-with-a-name-so-long-that-it-cannot-fit-in-half-the-width"
    report = build_report(_document({"sequential": [4.0, 4.4, 4.1], name: [1.0, 1.2, 0.9]}))
    text = rendered(lambda console: render_table(report, console), 80).split("•")[0]
    assert max(map(len, text.splitlines())) <= 80
    assert name in "".join(line.split()[0] for line in text.splitlines() if line.split())


@pytest.mark.parametrize("width", WIDTHS)
def test_the_benchmark_metrics_fit(width):
    runs = [
        _result("original-design", 12.3456),
        _result("threads", 2.0, peak_rss=1234.5 * MIB),
        _result("processes", 3.5, complete=False, succeeded=19, correct=None),
    ]
    text = rendered(lambda console: render_metrics(runs, console, unit="words"), width)
    assert_whole(
        text.split("•")[0],
        width,
        cells=["original-design", "threads", "processes", "Runtime [s]", "Throughput [words/s]", "CPU utilisation"],
        numbers=["12.346", "2.000", "1234.5", "10.0", "5.4", "100.0 %", "95.0 %"],
    )


TUNING = [
    ["threads", "workers", "1–1024", "93", "256", "1.234", "0.987", "14", "31.4", "workers at the edge"],
    ["hybrid", "workers", "1–8", "2", "4", "2.345", "1.876", "24", "123.4", "budget ran out"],
    ["", "concurrency", "1–512", "47", "128", "", "", "", "", ""],
]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tuning_table_fits(width):
    text = rendered(lambda console: render_tuning(TUNING, console), width)
    numeric = {2, 3, 4, 5, 6, 7, 8}
    assert_whole(
        text,
        width,
        cells=TUNING_HEADER + [cell for row in TUNING for i, cell in enumerate(row) if i not in numeric],
        numbers=[cell for row in TUNING for i, cell in enumerate(row) if i in numeric and cell],
    )
    assert "…" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_the_sweep_table_fits(width):
    values = ["1", "4", "16", "64", "256", "1024"]
    points = [
        SweepPoint(name, float(v), 10.0 / (i + 1) + 0.0001 * n, 5.0, ok=(name, v) != ("hybrid", "1024"))
        for n, name in enumerate(["asyncio", "original-design", "hybrid"])
        for i, v in enumerate(values)
    ]
    text = rendered(lambda console: _print_sweep("concurrency", values, points, console), width)
    cells = [f"{p.median_wall_s:.3f}" for p in points]
    assert_whole(
        text,
        width,
        cells=["asyncio", "original-design", "hybrid", *(f"concurrency={v}" for v in values)],
        numbers=cells,
    )
    assert "median wall time [s] by concurrency" in text  # "[s]" is text, not markup
    assert "1.667 ✗" in text  # a point with a failed run is marked


def test_stacking_keeps_the_key_columns_and_the_order():
    cols = [Column("name", ["a", "b"], numeric=False)] + [
        Column(f"column number {i}", [f"{i}.000", f"{i}.500"]) for i in range(12)
    ]
    groups = stack(cols, 80)
    assert len(groups) > 1 and all(group[0] is cols[0] for group in groups)
    assert [c for group in groups for c in group[1:]] == cols[1:]
    text = rendered(lambda console: print_table(console, cols, "numbers"), 80)
    assert_whole(text, 80, cells=[c.header for c in cols], numbers=[cell for c in cols for cell in c.cells])
    assert "numbers (continued)" in text
