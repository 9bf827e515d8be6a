"""What the benchmark scripts share: running orchbench for one JSON result, medians, and the verdict line.

Every measured run goes through the project's own CLI (``python -m orchbench run … --json``), so a figure here is
exactly what a user would see. Timing of whole commands uses ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from orchbench import usable_cores

ROOT = Path(__file__).resolve().parents[1]


def orchbench_cmd() -> list[str]:
    """The orchbench command of this interpreter (no console script needed)."""
    return [sys.executable, "-m", "orchbench"]


def run(strategy: str, *args: str, timeout: float = 3600, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """One isolated ``orchbench run STRATEGY ARGS --json``; its result as a dict (raises on a non-zero exit)."""
    cmd = [*orchbench_cmd(), "run", strategy, *args, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**env(), **(extra_env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def orchbench(*args: str) -> None:
    """Run ``orchbench ARGS`` for the files it writes, its output discarded; a failure exits with its error output."""
    done = subprocess.run([*orchbench_cmd(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"orchbench {' '.join(args)} failed:\n{done.stderr}")


def env() -> dict[str, str]:
    """The environment of the runs: built-in plugins plus the Ray plugin when installed, no colour."""
    out = dict(os.environ)
    out.setdefault("NO_COLOR", "1")
    return out


def timed(cmd: list[str]) -> float:
    """Seconds a command takes, start to exit (its output discarded; a failure raises)."""
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    return time.perf_counter() - started


def request_costs(result: dict[str, Any]) -> dict[str, float]:
    """A scoring run's CPU per request, in µs, from the kernel's CPU clocks over the run's window: the client's
    (the run's CPU over its attempts) and the embedded server's (``service_cpu_s``, or else its own account of its
    CPU during the run, over the requests it counted); and the CPU floor, in seconds: all of that CPU spread over
    the cores the run could use (the result's ``cpu_floor_s``)."""
    stats = result.get("workload_stats") or {}
    requests = stats.get("requests") or 0
    server_s = result.get("service_cpu_s")
    if server_s is None:
        server_s = stats.get("cpu_s", float("nan")) - stats.get("cpu_s_at_start", float("nan"))
    client_s = result.get("cpu_s") or float("nan")
    cores = result.get("cores") or machine()["cores"] or 1
    return {
        "client_us": 1e6 * client_s / max(1, result.get("attempts") or 0),
        "server_us": 1e6 * server_s / max(1, requests),
        "cpu_floor_s": (client_s + server_s) / cores,
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer seeds/iterations: a rough check in about a minute")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the figures to this JSON file")
    return p


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def verdict(
    target: str, figure: str, ok: bool, details: dict[str, Any] | None = None, json_out: str | None = None
) -> bool:
    """Print ``target / measured / pass|short``; optionally write the figures as JSON. Returns ``ok``."""
    print(f"target:   {target}")
    print(f"measured: {figure}")
    print(f"result:   {'pass' if ok else 'short'}")
    if json_out:
        data = {"target": target, "measured": figure, "pass": ok, "details": details or {}, "machine": machine()}
        Path(json_out).write_text(json.dumps(data, indent=2) + "\n")
    return ok


def machine() -> dict[str, Any]:
    import platform

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": usable_cores(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def table(rows: list[list[Any]], header: list[str]) -> None:
    """A plain aligned table on stdout."""
    text = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(header))]
    for r in text:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
