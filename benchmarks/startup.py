"""Target 6: ``orchbench list`` and ``orchbench --help`` each in ≤ 0.3 s (import only what the command needs).

Each command runs as a user types it (the console script beside this interpreter, else ``python -m orchbench``),
from an empty directory outside the project, ``--runs`` times after one warm-up. Two figures per command, medians:
its CPU time (user + system, each shown: the kernel's account of the finished process, from ``os.wait4``) and its
wall time (``time.perf_counter`` around the process). The verdict is on CPU, which a busy machine stretches far
less than wall; on a quiet machine the two agree. The load average is printed with the figures.
``python -X importtime -m orchbench list`` shows where the time goes.

    python benchmarks/startup.py             # 10 runs each: about 10 s
    python benchmarks/startup.py --quick     # 3 runs each
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import env, median, orchbench_cmd, parser, table, verdict

LIMIT_S = 0.3


def command() -> list[str]:
    script = Path(sys.executable).with_name("orchbench")
    return [str(script)] if script.exists() else orchbench_cmd()


def measured(cmd: list[str], cwd: str) -> tuple[float, float, float]:
    """(user CPU, system CPU, wall) seconds of one run of ``cmd`` in ``cwd`` (its output discarded; a failure
    raises)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return usage.ru_utime, usage.ru_stime, wall


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args()
    runs = 3 if args.quick else args.runs
    figures = {}
    with tempfile.TemporaryDirectory() as outside:
        for name, argv in (("orchbench list", ["list"]), ("orchbench --help", ["--help"])):
            cmd = [*command(), *argv]
            measured(cmd, outside)  # warm-up: bytecode caches, page cache
            user, system, wall = zip(*(measured(cmd, outside) for _ in range(runs)), strict=True)
            cpu = [u + s for u, s in zip(user, system, strict=True)]
            figures[name] = {
                "cpu_s": median(cpu),
                "user_s": median(list(user)),
                "system_s": median(list(system)),
                "wall_s": median(list(wall)),
            }
    load = os.getloadavg()
    table(
        [[n, f["cpu_s"], f["user_s"], f["system_s"], f["wall_s"]] for n, f in figures.items()],
        ["command", "CPU s", "user s", "system s", "wall s"],
    )
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    worst = max(f["cpu_s"] for f in figures.values())
    verdict(
        f"orchbench list and --help each <= {LIMIT_S} s of CPU",
        "; ".join(f"{n} {f['cpu_s']:.2f} s CPU, {f['wall_s']:.2f} s wall" for n, f in figures.items()),
        worst <= LIMIT_S,
        {**figures, "load_average": load},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
