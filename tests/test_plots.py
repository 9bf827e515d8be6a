from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchbench.harness.planner import plan
from orchbench.results.document import make_document
from orchbench.types import RunResult, RunSpec
from orchbench.views.plots import SweepPoint, plot_comparison, plot_sweep, wants_log_axis

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _document(walls: dict[str, list[float]], rss: bool = True, wrong: str | None = None) -> dict:
    order = plan(list(walls), iterations=len(next(iter(walls.values()))), warmup=1)
    pairs = []
    for slot in order:
        spec = RunSpec(strategy=slot.strategy, case="medium", scenario="original").to_dict()
        bad = slot.strategy == wrong and slot.round == 1
        result = RunResult(
            spec=spec,
            items=20,
            succeeded=20,
            complete=True,
            correct=not bad,
            limit_s=0.3,
            wall_s=5.0 if slot.warmup else walls[slot.strategy][slot.round - 1],
            peak_rss=(40 + 10 * slot.round) * 2**20 if rss else None,
            sample_period_s=0.02,
        )
        pairs.append((slot, result))
    settings = {
        "workload": "anagrams",
        "case": "medium",
        "scenario": "original",
        "baseline": "sequential",
        "unit": "words",
    }
    return make_document(settings, order, pairs, env={"cpu_model": "Test CPU", "cpu_count": 16})


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def test_plot_comparison_writes_three_pngs(tmp_path):
    doc = _document(
        {"sequential": [4.0, 4.2, 4.1], "threads": [1.0, 1.1, 0.9], "asyncio": [0.6, 0.7, 0.65]}, wrong="asyncio"
    )
    paths = plot_comparison(doc, tmp_path / "plots")
    assert [p.name for p in paths] == [
        "anagrams-medium-original-wall.png",
        "anagrams-medium-original-throughput.png",
        "anagrams-medium-original-memory.png",
    ]
    assert all(_is_png(p) for p in paths)


def test_plot_comparison_skips_memory_when_not_measured_and_takes_a_stem(tmp_path):
    paths = plot_comparison(_document({"sequential": [2.0], "threads": [1.0]}, rss=False), tmp_path, stem="run7")
    assert [p.name for p in paths] == ["run7-wall.png", "run7-throughput.png"]
    assert all(_is_png(p) for p in paths)


def test_plot_sweep_writes_a_png(tmp_path):
    points = [SweepPoint("threads", v, 8 / v + 0.2, 20 * v) for v in (1, 2, 4, 8, 16, 32)]
    points += [{"strategy": "processes", "value": v, "median_wall_s": 9 / v + 0.5, "ok": v < 32} for v in (1, 4, 32)]
    out = plot_sweep(points, tmp_path / "sweep.png", option="workers")
    assert out == tmp_path / "sweep.png" and _is_png(out)
    assert _is_png(plot_sweep(points[:6], tmp_path / "tp.png", option="workers", metric="throughput"))


def test_plot_sweep_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        plot_sweep([], tmp_path / "x.png")
    with pytest.raises(ValueError):
        plot_sweep([SweepPoint("a", 1, 1.0)], tmp_path / "x.png", metric="latency")


def test_log_axis_only_for_a_wide_span():
    assert wants_log_axis([1, 2, 4, 8, 16])
    assert not wants_log_axis([1, 5, 10])
    assert not wants_log_axis([0, 100])
    assert not wants_log_axis([])


def test_importing_the_modules_loads_no_heavy_dependency():
    code = (
        "import sys\n"
        "import orchbench.results.stats, orchbench.results.document, orchbench.results.figures\n"
        "import orchbench.views.terminal, orchbench.views.markdown, orchbench.views.export\n"
        "import orchbench.results.gate, orchbench.views.plots\n"
        "import orchbench.harness.planner\n"
        "heavy = [m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
