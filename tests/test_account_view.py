"""The views of a time account: table cells, the SVG pictures of the HTML page, the PNGs, and accounts from files
that hold anything."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from orchbench.harness import account
from orchbench.views import account as account_view


def _account() -> dict:
    worker = {
        "pid": 1,
        "tid": 1,
        "kind": "async",
        "items": 3,
        "attempts": 4,
        "first": 1.1,
        "last": 2.0,
        "busy": 1.5,
        "attempt_wall": 1.2,
        "cpu": 0.3,
        "steps_wall": 0.6,
        "loop_overlap": 0.1,
        "slot_wait": 0.0,
        "retry_after": 0.0,
        "retry_wait": 0.3,
        "gil_samples": 0,
        "wait_samples": 0,
        "run_samples": 0,
        "inflight": 0,
        "max_inflight": 2,
        "runq": 0.05,
        "sampled": False,
        "spans": [(1.1, 1.6, 1, True), (1.2, 2.0, 2, True), (1.6, 1.9, 1, False)],
    }
    return account.build({"workers": [worker]}, start=1.0, end=2.1, prepare_s=0.05, before_window_s=0.0, items=3)


def test_table_and_lines_give_each_part_and_mark_unknowns():
    acc = _account()
    cols = account_view.columns({"asyncio": acc, "ray": {**acc, "parts": dict.fromkeys(account.PARTS)}})
    by_header = {c.header: c.cells for c in cols}
    assert by_header["Retry waits"][0] == f"{100 * 0.3 / acc['worker_seconds']:.0f} %"
    assert by_header["Running"][1] == "?"
    lines = dict(account_view.run_lines(acc, "the loop was blocked"))
    assert lines["why"] == "the loop was blocked" and "1 worker, 2 slots" in lines["workers"]


def test_a_start_before_the_window_is_start_up_too():
    """Ray starts itself and its actors before the window: the table's start-up and the run's lines show it."""
    acc = _account()
    ray = {**acc, "startup": {**acc["startup"], "before_window_s": 5.0}}
    unseen = {**ray, "startup_s": None}
    cells = {c.header: c.cells for c in account_view.columns({"asyncio": acc, "ray": ray, "cluster": unseen})}
    assert cells["Start-up [s]"] == [f"{acc['startup_s']:.3f}", f"{acc['startup_s'] + 5:.3f}", "5.000 + ?"]
    assert "before the window, the strategy's start 5" in dict(account_view.run_lines(ray, None))["wall"]


def test_overlapping_items_of_one_worker_get_lanes_and_retries_are_marked():
    acc = _account()
    rows, placed = account_view.lanes(acc)
    assert len(rows) == 2  # two items overlapped on the one worker
    svg = account_view.svg_timeline("asyncio", acc)
    root = ET.fromstring(svg)
    fills = [r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert "#E69F00" in fills and "#D55E00" in fills  # retried, failed
    assert root.get("width") == "100%"  # scales to the page, however narrow


def test_bars_draw_each_known_part_once_per_strategy():
    acc = _account()
    root = ET.fromstring(account_view.svg_bars({"a": acc, "b": acc}))
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert sum(t.startswith("a: ") for t in titles) == sum(1 for v in account_view.shares(acc).values() if v)


def test_an_account_from_a_file_that_holds_anything_is_skipped_not_a_crash():
    junk = {"parts": "x", "timeline": [[0, "a", None, 1, True], "y", [None] * 5], "per_worker": 3, "wall_s": "w"}
    assert account_view.svg_bars({"<s>": junk}) == ""
    assert account_view.svg_timeline("<s>", junk).count("<rect") == 0
    assert account_view.run_lines(junk, None)[0][0] == "wall"
    assert "&lt;s&gt;" in account_view.svg_timeline("<s>", {**_account(), "per_worker": []})


def test_pngs_are_written_for_bars_and_timelines(tmp_path):
    written = account_view.plot({"asyncio": _account()}, str(tmp_path / "x"))
    assert [p.rsplit("-", 1)[1] for p in written] == ["account.png", "timeline.png"]
    assert all((tmp_path / p.rsplit("/", 1)[1]).read_bytes().startswith(b"\x89PNG") for p in written)
