"""A comparison's figures for other programs: CSV (every column) and JSON (the report schema)."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from orchbench.results.document import machine_label
from orchbench.results.figures import Report, StrategyRow, footnotes
from orchbench.support.escape import csv_cell
from orchbench.support.units import MIB

if TYPE_CHECKING:
    pass


REPORT_SCHEMA = "orchbench.report/1"


CSV_COLUMNS = (
    "strategy",
    "baseline",
    "winner",
    "ok",
    "runs",
    "ok_runs",
    "correct_runs",
    "mean_s",
    "stddev_s",
    "median_s",
    "q1_s",
    "q3_s",
    "min_s",
    "max_s",
    "relative",
    "throughput_per_s",
    "unit",
    "success_rate",
    "cpu_percent",
    "peak_rss_mib",
    "peak_uss_mib",
    "efficiency",
    "cpu_floor_s",
    "cpu_efficiency",
    "speedup",
    "speedup_low",
    "speedup_high",
    "verdict",
    "p_value",
    "problems",
    "setting",
    "in_flight",
    "partial",
    "why",
    "first_error",
)


def _record(report: Report, r: StrategyRow) -> dict[str, Any]:
    w, s, c = r.wall, r.speedup, r.comparison
    return {
        "strategy": r.strategy,
        "baseline": r.baseline,
        "winner": r.winner,
        "ok": not r.flagged,
        "runs": r.runs,
        "ok_runs": r.ok_runs,
        "correct_runs": r.correct_runs,
        "mean_s": w and w.mean,
        "stddev_s": w and w.stdev,
        "median_s": w and w.median,
        "q1_s": w and w.q1,
        "q3_s": w and w.q3,
        "min_s": w and w.min,
        "max_s": w and w.max,
        "relative": r.relative,
        "throughput_per_s": r.throughput,
        "unit": report.unit,
        "success_rate": r.success_rate,
        "cpu_percent": r.cpu_percent,
        "peak_rss_mib": None if r.peak_rss is None else r.peak_rss / MIB,
        "peak_uss_mib": None if r.peak_uss is None else r.peak_uss / MIB,
        "efficiency": r.efficiency,
        "cpu_floor_s": r.cpu_floor_s,
        "cpu_efficiency": r.cpu_efficiency,
        "speedup": s and s.ratio,
        "speedup_low": s and s.low,
        "speedup_high": s and s.high,
        "verdict": c and c.verdict,
        "p_value": c and c.p_value,
        "problems": r.problem_text(),
        "setting": r.setting,
        "in_flight": r.in_flight,
        "partial": r.partial,
        "why": report.why.get(r.strategy),
        "first_error": report.first_errors.get(r.strategy),
    }


def to_csv(report: Report) -> str:
    """One header line, then one line per strategy; numbers unformatted, times in seconds, empty when unknown."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow(
            {k: csv_cell(v) for k, v in _record(report, row).items()}  # text from outside: no formula
        )
    return out.getvalue()


def to_json(report: Report) -> str:
    """hyperfine-like JSON: ``results`` with mean, stddev, median, min, max, relative and the times."""
    results = []
    for row in report.rows:
        record = _record(report, row)
        results.append(
            {
                "strategy": row.strategy,
                "mean": record["mean_s"],
                "stddev": record["stddev_s"],
                "median": record["median_s"],
                "min": record["min_s"],
                "max": record["max_s"],
                "relative": row.relative,
                "times": row.walls,
                **{
                    k: v
                    for k, v in record.items()
                    if k not in {"strategy", "mean_s", "stddev_s", "median_s", "min_s", "max_s", "relative"}
                },
            }
        )
    document = {
        "schema": REPORT_SCHEMA,
        "workload": report.workload,
        "case": report.case,
        "scenario": report.scenario,
        "machine": machine_label(report.environment),
        "baseline": report.baseline,
        "winner": report.winner,
        "alpha": report.alpha,
        "confidence": report.confidence,
        "results": results,
        "notes": footnotes(report),
    }
    return json.dumps(document, indent=2) + "\n"
