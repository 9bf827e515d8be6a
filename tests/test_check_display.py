"""``orchbench check`` states each bound as it is checked: ± for a two-sided one, 0 to + for a one-sided one."""

from __future__ import annotations

from orchbench.types import RunResult
from orchbench.workloads.calibrate.check import BURN_S, HOLD_MIB, SLEEP_S, judge


def _run(**fields) -> RunResult:
    return RunResult(spec={}, complete=True, correct=True, **fields)


def test_one_sided_bounds_are_not_shown_as_plus_or_minus():
    mib = 2**20
    sleep = _run(wall_s=SLEEP_S + 0.002, cpu_s=0.001, elapsed_s=SLEEP_S + 0.2)
    burn = _run(wall_s=BURN_S, cpu_s=BURN_S, elapsed_s=BURN_S + 0.2)
    held = _run(wall_s=1.0, elapsed_s=1.2, base_rss=50 * mib, peak_rss=int((50 + HOLD_MIB) * mib))
    checks = {c.figure: c for c in judge(sleep, burn, held, held, cores=2)}
    shown = {figure: c.bound_text("{:.4f}") for figure, c in checks.items()}
    assert shown[f"wall of a {SLEEP_S:g} s sleep"].startswith("0 to +")  # a wall never comes in under the sleep
    assert shown["CPU of that sleeping run"].startswith("0 to +")
    assert shown[f"CPU of a {BURN_S:g} s burn"].startswith("±")
    assert shown["elapsed − wall, least of every run"] == "—"
