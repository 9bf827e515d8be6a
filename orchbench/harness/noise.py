"""How noisy this machine is for timing: CPU frequency scaling, other work on the cores, run-to-run spread.

The first two are read from the system in microseconds (``benchmark`` and ``compare`` read them before their runs,
which load the machine themselves, and warn after them); the spread needs runs, so only ``orchbench check``
measures it.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPREAD_NOISY = 0.05  # a relative standard deviation of a fixed workload's time above this is noise
LOAD_NOISY = 0.5  # another process's load per core above this shares the cores with the runs


def usable_cores() -> int:
    """The CPUs this process may run on: its affinity mask where the system has one (a container or ``taskset``
    may allow fewer than the machine has, which ``os.cpu_count`` ignores), else every CPU; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def governors() -> list[str]:
    """The CPU frequency scaling governor of each core (distinct, sorted); empty when the system does not say
    (many virtual machines and containers)."""
    found = set()
    for path in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor"):
        try:
            found.add(path.read_text().strip())
        except OSError:
            continue
    return sorted(found)


def load_per_core() -> float | None:
    """The 1-minute load average per core, None where there is none."""
    if not hasattr(os, "getloadavg"):
        return None
    return os.getloadavg()[0] / usable_cores()


def spread(values: Sequence[float]) -> float | None:
    """Relative spread of repeated measurements: 1.4826 × the median absolute deviation over the median.

    It equals the relative standard deviation for normally spread values, but one stray run (a VM's hiccup) does
    not move it: comparisons rank strategies by medians, which that run does not move either.
    """
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    if middle <= 0:
        return None
    return 1.4826 * statistics.median(abs(v - middle) for v in values) / middle


def listen_overflows() -> int | None:
    """Connection attempts the kernel has dropped because a listening socket's queue was full (Linux's
    ``TcpExtListenOverflows``: this network namespace, since boot); None where the system does not say. The
    client sends a dropped attempt again a second later or more, on loopback too."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):  # a header line, then its values
        if names.startswith("TcpExt:"):
            counters = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            value = counters.get("ListenOverflows", "")
            return int(value) if value.isdigit() else None
    return None


def listen_queue_note(dropped: int) -> str:
    """What ``dropped`` connection attempts inside a timed window mean for its figures."""
    try:
        limit = f" (net.core.somaxconn is {Path('/proc/sys/net/core/somaxconn').read_text().strip()})"
    except OSError:
        limit = ""
    attempts = "connection attempt" if dropped == 1 else "connection attempts"
    return (
        f"the kernel dropped {dropped:,} {attempts} on this machine while the run was timed: a listen queue was "
        f"full{limit}; a dropped attempt is sent again a second or more later, a wait the wall time includes "
        "when the attempt was the run's"
    )


def reasons(run_spread: float | None = None) -> list[str]:
    """Why timings on this machine are noisy now; empty when nothing says so."""
    out = []
    scaling = [g for g in governors() if g != "performance"]
    if scaling:
        out.append(f"CPU frequency scaling governor is {', '.join(scaling)} (not performance): clock speed varies")
    load = load_per_core()
    if load is not None and load > LOAD_NOISY:
        out.append(f"load average {load * usable_cores():.2f} on {usable_cores()} cores: other work shares the cores")
    if run_spread is not None and run_spread > SPREAD_NOISY:
        out.append(
            f"the same work's time varies by {100 * run_spread:.1f} % from run to run (over {100 * SPREAD_NOISY:.0f} %)"
        )
    return out


def machine_noise(walls: Sequence[float] = ()) -> dict[str, Any]:
    """How noisy this machine is for timing now: its usable ``cores``, the CPU frequency ``governors``, the
    ``load_per_core``, the ``spread`` of ``walls`` (times of the same work, repeated; None for fewer than two)
    and ``noisy``, the reasons timings are noisy (empty when nothing says so)."""
    run_spread = spread(walls)
    return {
        "cores": usable_cores(),
        "governors": governors(),
        "load_per_core": load_per_core(),
        "spread": run_spread,
        "noisy": reasons(run_spread),
    }


def warn(found: list[str]) -> None:
    """One warning on stderr per reason (from :func:`reasons`) the machine was noisy: on a terminal wrapped at
    whole words to its width, elsewhere (a log) one line each."""
    lines = [f"orchbench: warning: noisy machine: {reason} (see `orchbench check`)" for reason in found]
    if not lines:
        return
    if not sys.stderr.isatty():
        for line in lines:
            print(line, file=sys.stderr)
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, highlight=False, emoji=False)
    for line in lines:
        console.print(Text(line))
