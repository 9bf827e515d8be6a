"""Memory profiles with memray: every strategy runs once, in its own child process, under a memray Tracker.

The child (``python -m orchbench.harness.profile CAPTURE SETTINGS SPEC.json RESULT.json``) starts a Tracker that follows
forks, then runs :func:`orchbench.harness.child.main`, so the run is verified against the reference and its
process tree sampled by the parent exactly as an ordinary run. Workers that are not forked from a tracked process
(``spawn``, ``forkserver``) start their own Tracker through the worker hook of
:func:`orchbench.harness.task.task_for`, writing ``CAPTURE.<pid>`` as memray's follow-fork does. Every capture is
then read with memray's Python API and drawn as a flamegraph. memray is imported only here, and only when used.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchbench.errors import UsageError
from orchbench.harness import interpreter
from orchbench.harness.noise import usable_cores
from orchbench.types import RunSpec

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # orchbench/

SCHEMA = "orchbench.profile/1"
SETTINGS_ENV = "ORCHBENCH_MEMRAY"  # JSON: the capture prefix and tracking settings, for workers
HOOK = "orchbench.harness.profile:track_worker"
DEALLOCATORS = ("FREE", "MUNMAP", "PYMALLOC_FREE")  # memray's AllocatorType names that release memory
UNKNOWN = ("<unknown>", "<unknown>", 0)
VIA_DEPTH = 2
STACK_DEPTH = 128  # frames read per allocation: enough to reach the runner's, which tell whose the allocation is
# The run process's work, by the function the runner's ``execute`` calls for it: the workload's and strategy's own
# (what is measured), or orchbench's harness around it. Memory allocated under the harness's is attributed to it.
WORKLOAD_CALLS = {"__init__", "load_input", "start", "build", "prepare", "_dedupe", "_checked_map", "reduce", "stop"}
HARNESS_CALLS = {
    "_verify": "reference check",
    "get_registry": "plugin loading",
    "limit_s": "best possible time",
    "account": "accounting",
    "_account": "accounting",
}
WORKLOAD = "workload"


@dataclass(frozen=True)
class ProfileOptions:
    """What to record and report besides the peak: native frames, memory held at the end, temporary allocations."""

    native: bool = False
    leaks: bool = False
    temporary: bool = False
    top: int = 5

    @property
    def python_allocators(self) -> bool:
        """Leaks and temporary allocations are exact only when pymalloc's own allocations are recorded too."""
        return self.leaks or self.temporary


def require_memray() -> Any:
    """The memray module, or a UsageError saying why it cannot profile here."""
    if not sys.platform.startswith(("linux", "darwin")):
        raise UsageError(f"memory profiling uses memray, which runs on Linux and macOS, not on {sys.platform}")
    try:
        import memray
    except ImportError as exc:
        raise UsageError(
            f"memory profiling needs memray, which cannot be imported ({exc}); install it with `pip install memray`"
        ) from None
    return memray


# --- in the profiled processes -------------------------------------------------------------------------------

_tracker: Any = None  # the Tracker this process started
_tracked = False  # copied into forked children, which memray's follow_fork already records


def _start(capture: str, settings: dict[str, Any]) -> None:
    global _tracker, _tracked
    import memray

    tracker = memray.Tracker(
        capture,
        native_traces=settings["native"],
        follow_fork=True,
        trace_python_allocators=settings["python_allocators"],
    )
    tracker.__enter__()
    _tracker, _tracked = tracker, True


def _stop() -> None:
    global _tracker
    tracker, _tracker = _tracker, None
    if tracker is not None:
        tracker.__exit__(None, None, None)


@contextmanager
def tracking(capture: str, native: bool = False, python_allocators: bool = False) -> Iterator[None]:
    """Record this process in ``capture`` and, through the worker hook, every worker it starts: forked ones by
    memray's follow_fork, others (spawn, forkserver) by their own Tracker writing ``capture.<pid>``."""
    from orchbench.harness.task import WORKER_HOOK_ENV

    settings = {"native": native, "python_allocators": python_allocators}
    os.environ[SETTINGS_ENV] = json.dumps({**settings, "capture": capture})
    os.environ[WORKER_HOOK_ENV] = HOOK  # inherited by every worker, whatever its start method
    _start(capture, settings)
    try:
        yield
    finally:
        _stop()


def child_main(argv: list[str]) -> int:
    """The profiled child: CAPTURE SETTINGS_JSON SPEC.json RESULT.json."""
    from orchbench.harness import child

    capture, settings, spec_path, result_path = argv
    with tracking(capture, **json.loads(settings)):
        return child.main(spec_path, result_path)


def track_worker() -> None:
    """Worker hook: record this process in ``CAPTURE.<pid>``, unless it was forked from a tracked process."""
    raw = os.environ.get(SETTINGS_ENV)
    if _tracked or not raw:
        return
    settings = json.loads(raw)
    try:
        _start(f"{settings['capture']}.{os.getpid()}", settings)
    except Exception as exc:  # the run goes on unprofiled in this worker rather than failing
        print(f"orchbench: warning: memray cannot record worker {os.getpid()}: {exc}", file=sys.stderr)
        return
    from multiprocessing import util

    util.Finalize(None, _stop, exitpriority=-100)  # multiprocessing workers leave by os._exit, after finalizers
    atexit.register(_stop)


# --- reading captures ----------------------------------------------------------------------------------------


def _roots() -> list[Path]:
    own = PACKAGE_DIR.parent
    paths = {own, *(Path(p).resolve() for p in sys.path if p)}
    return sorted(paths, key=lambda p: len(p.parts), reverse=True)


def short_path(file: str, roots: list[Path]) -> str:
    """A source file relative to the import root it lives under (``orchbench/…``, ``json/…``)."""
    path = Path(file)
    for root in roots:
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name or file


class SiteTable:
    """Bytes and allocations summed per allocation site: the innermost frame, and the path through orchbench's
    own code that led to it (``via``: the next ``VIA_DEPTH`` frames of orchbench, innermost first)."""

    def __init__(self) -> None:
        self.own = str(PACKAGE_DIR)
        self.runner = str(Path(self.own) / "harness" / "runner.py")
        self.child = str(Path(self.own) / "harness" / "child.py")
        self.roots = _roots()
        self.sites: dict[tuple[Any, ...], list[int]] = {}

    def add(self, stack: list[tuple[str, str, int]], size: int, count: int, process: int) -> None:
        top = stack[0] if stack else UNKNOWN
        via = tuple(frame for frame in stack[1:] if frame[1].startswith(self.own))[:VIA_DEPTH]
        self._count((top, via, self.owner(stack)), size, count, process)

    def owner(self, stack: list[tuple[str, str, int]]) -> str:
        """``workload``, or ``harness: <what>`` when the allocation is orchbench's own work in the run process
        (checking the output against the reference, loading plugins, the best possible time, writing the result)."""
        for inner, outer in zip(stack, stack[1:], strict=False):
            if outer[0] == "execute" and outer[1] == self.runner:
                if inner[0] in WORKLOAD_CALLS:
                    return WORKLOAD
                return f"harness: {HARNESS_CALLS.get(inner[0], inner[0])}"
        if any(frame[1] == self.child for frame in stack):  # the run process, outside the run: its harness
            return "harness: run process"
        return WORKLOAD  # a worker process

    def merge(self, other: SiteTable, process: int) -> None:
        for site, (size, count, _, _) in other.sites.items():
            self._count(site, size, count, process)

    def _count(self, site: tuple[Any, ...], size: int, count: int, process: int) -> None:
        entry = self.sites.setdefault(site, [0, 0, 0, -1])  # bytes, allocations, processes, last process seen
        entry[0] += size
        entry[1] += count
        if entry[3] != process:
            entry[2] += 1
            entry[3] = process

    def top(self, n: int) -> list[dict[str, Any]]:
        """The ``n`` sites holding the most bytes of the workload's own code, then the ``n`` of the harness's."""
        ranked = sorted(self.sites.items(), key=lambda kv: kv[1][0], reverse=True)
        own = [kv for kv in ranked if kv[0][2] == WORKLOAD][:n]
        harness = [kv for kv in ranked if kv[0][2] != WORKLOAD][:n]
        return [
            {
                "site": f"{short_path(top[1], self.roots)}:{top[2]}",
                "function": top[0],
                "via": [
                    {"function": frame[0], "site": f"{short_path(frame[1], self.roots)}:{frame[2]}"} for frame in via
                ],
                "owner": owner,
                "bytes": size,
                "allocations": count,
                "processes": processes,
            }
            for (top, via, owner), (size, count, processes, _) in own + harness
        ]


def _records_table(records: Any) -> SiteTable:
    table = SiteTable()
    for record in records:
        table.add(record.stack_trace(STACK_DEPTH), record.size, record.n_allocations, 0)
    return table


def read_capture(path: Path, options: ProfileOptions) -> tuple[dict[str, Any], dict[str, SiteTable]]:
    """One capture's figures, and its allocation sites per view (peak, allocated, leaked, temporary)."""
    import memray

    releases = {int(memray.AllocatorType[name]) for name in DEALLOCATORS}
    with memray.FileReader(path) as reader:
        meta = reader.metadata
        by_stack: dict[int, list[Any]] = {}
        allocations = allocated = 0
        for record in reader.get_allocation_records():
            if record.allocator in releases:
                continue
            allocations += 1
            allocated += record.size
            entry = by_stack.get(record.stack_id)
            if entry is None:
                by_stack[record.stack_id] = [record.size, 1, record]
            else:
                entry[0] += record.size
                entry[1] += 1
        every = SiteTable()
        for size, count, record in by_stack.values():
            every.add(record.stack_trace(STACK_DEPTH), size, count, 0)
        views = {
            "peak": _records_table(reader.get_high_watermark_allocation_records(merge_threads=True)),
            "allocated": every,
        }
        if options.leaks:
            views["leaked"] = _records_table(reader.get_leaked_allocation_records(merge_threads=True))
        if options.temporary:
            views["temporary"] = _records_table(reader.get_temporary_allocation_records(merge_threads=True))
    figures: dict[str, Any] = {
        "pid": meta.pid,
        "peak_heap": meta.peak_memory,
        "allocations": allocations,
        "allocated_bytes": allocated,
    }
    for view in ("leaked", "temporary"):
        if view in views:
            sites = views[view].sites.values()
            figures[f"{view}_bytes"] = sum(e[0] for e in sites)
            figures[f"{view}_allocations"] = sum(e[1] for e in sites)
    return figures, views


FLAMEGRAPH_MODES = {"peak": [], "leaks": ["--leaks"], "temporary": ["--temporary-allocations"]}


def flamegraph(capture: Path, out: Path, mode: str = "peak") -> str | None:
    """Draw ``capture`` as a self-contained HTML flamegraph (no assets from the web); the error line, if any."""
    cmd = [
        *interpreter.command("-m", "memray"),
        "flamegraph",
        "--force",
        "--no-web",
        "-o",
        str(out),
        *FLAMEGRAPH_MODES[mode],
        str(capture),
    ]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=interpreter.environment())
    if done.returncode != 0 or not out.exists():
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        return lines[-1] if lines else f"memray flamegraph exited with status {done.returncode}"
    return None


# --- one profile per strategy --------------------------------------------------------------------------------


def default_out_dir(base: Path = Path("results")) -> Path:
    """``results/profile-<UTC timestamp>``, made unique when two profiles start in the same second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base / f"profile-{stamp}", 1
    while candidate.exists():
        n += 1
        candidate = base / f"profile-{stamp}-{n}"
    return candidate


def prepare_out_dir(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not an empty directory (memray does not overwrite captures)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the output directory ({exc.strerror or exc})") from None
    return out


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "strategy"


def _captures(out: Path, stem: str) -> list[Path]:
    """The main capture first, then the workers' (``STEM.bin.<pid>``) by pid."""
    main = out / f"{stem}.bin"
    workers = [p for p in out.glob(f"{stem}.bin.*") if p.suffix[1:].isdigit()]
    return ([main] if main.exists() else []) + sorted(workers, key=lambda p: int(p.suffix[1:]))


def profile_one(label: str, spec: RunSpec, out: Path, options: ProfileOptions) -> dict[str, Any]:
    """Run one strategy under memray; its run figures, per-process captures and top allocation sites."""
    from orchbench.harness.isolate import run_isolated

    stem = _slug(label)
    capture = (out / f"{stem}.bin").resolve()
    settings = json.dumps({"native": options.native, "python_allocators": options.python_allocators})
    result = run_isolated(spec, launcher=("-m", "orchbench.harness.profile", str(capture), settings))
    entry: dict[str, Any] = {
        "label": label,
        "spec": spec.to_dict(),
        "ok": result.ok,
        "complete": result.complete,
        "correct": result.correct,
        "error": result.error,
        "wall_s": result.wall_s,
        "peak_rss": result.peak_rss,
        "peak_uss": result.peak_uss,
        "sample_period_s": result.sample_period_s,
    }
    totals = {key: 0 for key in ("peak_heap", "allocations", "allocated_bytes")}
    views: dict[str, SiteTable] = {}
    processes = []
    paths = _captures(out, stem)
    modes = ["peak"] + (["leaks"] if options.leaks else []) + (["temporary"] if options.temporary else [])
    # flamegraphs are drawn by memray processes while this one reads the captures
    with ThreadPoolExecutor(max_workers=max(1, usable_cores() - 1)) as pool:
        drawings = {}
        for path in paths:
            name = stem if path.name == capture.name else f"{stem}.{path.suffix[1:]}"
            for mode in modes:
                html = out / (f"{name}.html" if mode == "peak" else f"{name}-{mode}.html")
                drawings[path, mode] = html, pool.submit(flamegraph, path, html, mode)
        for index, path in enumerate(paths):
            proc: dict[str, Any] = {
                "role": "main" if path.name == capture.name else "worker",
                "capture": path.name,
                "flamegraphs": {},
            }
            processes.append(proc)
            try:
                figures, tables = read_capture(path, options)
            except Exception as exc:  # e.g. a worker killed before memray could write its capture
                proc["error"] = f"unreadable capture: {type(exc).__name__}: {exc}"
                continue
            proc.update(figures)
            for key in figures:
                if key != "pid":
                    totals[key] = totals.get(key, 0) + figures[key]
            for view, table in tables.items():
                views.setdefault(view, SiteTable()).merge(table, index)
        for path, proc in zip(paths, processes, strict=True):
            if "error" in proc:
                continue
            errors = []
            for mode in modes:
                html, drawing = drawings[path, mode]
                error = drawing.result()
                if error is None:
                    proc["flamegraphs"][mode] = html.name
                else:
                    errors.append(f"{mode} flamegraph: {error}")
            if errors:
                proc["error"] = "; ".join(errors)
    entry.update(totals)
    entry["processes"] = processes
    entry["top"] = {view: table.top(options.top) for view, table in views.items()}
    return entry


def write_summary(out: Path, summary: dict[str, Any]) -> Path:
    """``summary.json`` beside the captures, written whole or not at all (an interrupt waits for it)."""
    from orchbench.support.atomic import write_text

    return write_text(out / "summary.json", json.dumps(summary, indent=2, default=str), "the profile summary")


def new_summary(options: ProfileOptions) -> dict[str, Any]:
    from orchbench.harness.environment import environment

    return {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": {**asdict(options), "python_allocators": options.python_allocators},
        "environment": {**environment(), "memray": require_memray().__version__},
        "strategies": [],
    }


if __name__ == "__main__":
    from orchbench.harness.profile import child_main as _child_main  # the importable module, whose state workers see

    sys.exit(_child_main(sys.argv[1:]))
