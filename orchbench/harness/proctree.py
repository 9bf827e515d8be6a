"""What the kernel knows about one process, read without psutil (cheap enough for the edges of a measured window).

- CPU time from the process's CPU clock (``clock_gettime`` on the clock id Linux derives from a pid): every
  thread, exited ones included, to the nanosecond. ``/proc/PID/stat`` counts in clock ticks (10 ms), which is
  why a sleeping run once showed 10 ms steps of CPU.
- RSS and the high-water mark ``VmHWM`` from ``/proc/PID/status``; writing ``5`` to ``/proc/PID/clear_refs``
  resets the high-water mark to the current RSS, so the mark read later is the peak since then.
- USS (the pages no other process shares) from ``/proc/PID/smaps_rollup``.

Every reader returns None where the system cannot tell (another OS, a process that ended, no permission).
"""

from __future__ import annotations

import os
import resource
import time

KIB = 1024
TICK_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_CPUCLOCK_SCHED = 2  # the kernel's encoding of a process CPU clock id: (~pid << 3) | CPUCLOCK_SCHED


def descendants(root: int) -> list[int] | None:
    """Every descendant of ``root``, read from Linux's ``/proc/PID/task/TID/children`` files (a cost in the size
    of the tree). None when those files do not exist (another OS, or a kernel built without them)."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        return None
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # ended meanwhile
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of process ``pid`` (all its threads), to the nanosecond; None if unknown."""
    if pid == os.getpid():
        return time.process_time()
    if not hasattr(time, "clock_gettime") or not os.path.isdir("/proc"):  # the id encoding is Linux's
        return None
    try:
        return time.clock_gettime(((~pid) << 3) | _CPUCLOCK_SCHED)
    except OSError:  # the process ended
        return None


def stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU time of its children that it has reaped) from ``/proc/PID/stat``; the children's time is
    counted in clock ticks there (for this process, ``getrusage`` gives it to the microsecond)."""
    if pid == os.getpid():
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return os.getppid(), kids.ru_utime + kids.ru_stime
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), (int(fields[13]) + int(fields[14])) / TICK_HZ
    except (OSError, ValueError, IndexError):
        return None


def memory(pid: int) -> tuple[int, int | None] | None:
    """(RSS, high-water mark) in bytes from ``/proc/PID/status``; None when unreadable or the process is gone
    (a zombie has no memory lines)."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1]) * KIB
                elif line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1]) * KIB
                    break  # VmRSS follows VmHWM
    except (OSError, ValueError, IndexError):
        return None
    return None if rss is None else (rss, hwm)


def reset_peak(pid: int) -> str | None:
    """Reset the high-water mark of ``pid`` to its current RSS; the reason when that is impossible, else None."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as exc:
        return f"cannot reset the kernel's high-water mark ({exc.strerror or exc})"
    return None


def uss(pid: int) -> int | None:
    """Unique set size in bytes: the private pages of ``pid`` (``smaps_rollup``), None when unreadable."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith((b"Private_Clean:", b"Private_Dirty:", b"Private_Hugetlb:")):
                    total += int(line.split()[1]) * KIB
    except (OSError, ValueError, IndexError):
        return None
    return total


def tree(root: int, exclude: frozenset[int] | set[int] = frozenset()) -> list[int]:
    """``root`` and its descendants, but ``exclude`` (only ``root`` where descendants cannot be listed)."""
    return [pid for pid in [root, *(descendants(root) or ())] if pid not in exclude]
