"""Run every target's script in turn and print one summary table; each script's JSON goes to ``--out``.

python benchmarks/all.py                       # the full suite: about 20 minutes on 2 cores
python benchmarks/all.py --quick               # every script's quick form: about 4 minutes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("startup", "harness_overhead", "anagram_limit", "scoring_limit", "cpu_speedup", "scale")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(HERE.parent / "results" / "benchmarks"), help="directory for the JSON")
    p.add_argument("--only", default="", help="comma-separated script names")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in SCRIPTS if not args.only or s in args.only.split(",")]
    rows = []
    for name in chosen:
        target = out / f"{name}.json"
        cmd = [sys.executable, str(HERE / f"{name}.py"), "--json", str(target), *(["--quick"] if args.quick else [])]
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(cmd)
        took = time.perf_counter() - started
        if done.returncode != 0 or not target.exists():
            rows.append((name, "error", f"exit {done.returncode}", took))
            continue
        data = json.loads(target.read_text())
        rows.append((name, "pass" if data["pass"] else "short", data["measured"], took))
    print("\n| script | result | measured | took |\n| --- | --- | --- | --- |")
    for name, result, measured, took in rows:
        print(f"| {name} | {result} | {measured} | {took:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
