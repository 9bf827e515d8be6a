"""One measured run in a fresh child process, its process tree sampled from here.

A fresh interpreter per run means no cache, pool or import survives from one run to the next.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

from orchbench.errors import UsageError
from orchbench.harness import interpreter
from orchbench.harness.child import EXIT_CANNOT_WRITE
from orchbench.harness.sampler import DEFAULT_PERIOD_S, TreeSampler
from orchbench.harness.window import account
from orchbench.support import interrupts
from orchbench.types import RunResult, RunSpec

GRACE_S = 5.0  # how long an interrupted child may take to stop its workers before it is killed
CHILD = ("-m", "orchbench.harness.child")


def kill_tree(procs: list[psutil.Process]) -> None:
    """Kill these processes and their descendants. psutil.Process objects know their creation time, so a pid
    reused since by an unrelated process is never touched."""
    procs = list(procs)
    for proc in list(procs):
        try:
            procs += [child for child in proc.children(recursive=True) if child.pid not in {p.pid for p in procs}]
        except psutil.Error:
            pass
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=GRACE_S)


def _stop_child(proc: subprocess.Popen) -> None:
    """Give an interrupted child GRACE_S to stop its workers (it heard Ctrl-C from the terminal with us; a
    SIGTERM or SIGHUP may have been sent to this process alone, so it is passed on as SIGTERM)."""
    if interrupts.terminated():
        with suppress(OSError):
            proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        pass


def since_process_start() -> float:
    """Seconds since this process started (the kernel's start time, to its clock tick): what a user has waited for
    a command so far, interpreter start-up included.

    On Linux the start time is read in clock ticks since boot and compared with the boot-time clock; psutil's
    ``create_time`` adds it to a boot time kept in whole seconds, which puts up to a second on the figure.
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])  # field 22, counted after the command name
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return max(0.0, time.time() - psutil.Process().create_time())


def _wait(proc: subprocess.Popen, deadline_s: float | None) -> int | None:
    """The child's exit status; None when it outlived ``deadline_s`` and was killed (its result is not wanted:
    the caller kills what it left behind, workers and server included)."""
    try:
        return proc.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def _no_room(why: str) -> UsageError:
    import shutil

    try:
        where = tempfile.gettempdir()
    except OSError:  # none of the candidates takes a file
        where = os.environ.get("TMPDIR") or "/tmp"
    with suppress(OSError):
        where += f", {shutil.disk_usage(where).free:,} bytes free"
    return UsageError(
        f"the temporary directory ({where}) is full or not writable: {why}; "
        "free some space or set TMPDIR to another directory"
    )


@contextmanager
def _run_directory() -> Iterator[str]:
    """The run's temporary directory (its spec and result), removed afterwards; one line when it cannot be made."""
    try:
        holder = tempfile.TemporaryDirectory(prefix="orchbench-run-")
    except OSError as exc:
        raise _no_room(exc.strerror or str(exc)) from None
    with holder as tmp:
        yield tmp


def run_isolated(
    spec: RunSpec,
    *,
    period_s: float = DEFAULT_PERIOD_S,
    with_output: bool | str = False,
    debug: bool = False,
    launcher: Sequence[str] = CHILD,
    deadline_s: float | None = None,
) -> RunResult:
    """Run ``spec`` in a child process; return its result with the tree's CPU and memory over the window completed
    by this process's samples, and ``elapsed_s``, the whole run's time from here.

    With ``deadline_s`` a child still running after that many seconds is stopped, and the result is an error
    saying so (the tuner stops a probe that is already clearly slower than the best one).

    ``launcher`` is what follows the interpreter on the child's command line, before SPEC.json and RESULT.json.
    Another launcher must end in :func:`orchbench.harness.child.main` (``orchbench profile`` wraps it in memray).
    """
    started = time.perf_counter()
    with _run_directory() as tmp:
        spec_path, result_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        try:
            spec_path.write_text(json.dumps({"spec": spec.to_dict(), "with_output": with_output, "debug": debug}))
        except OSError as exc:
            raise _no_room(exc.strerror or str(exc)) from None
        proc: subprocess.Popen | None = None
        sampler: TreeSampler | None = None
        try:
            with interrupts.deferred(), interrupts.sigint_held():  # the child runs only once someone stops it
                proc = subprocess.Popen(
                    interpreter.command(*launcher, str(spec_path), str(result_path), python=spec.python),
                    stdin=subprocess.DEVNULL,
                    stdout=2,  # our stdout is for results (--json)
                    env=interpreter.environment(python=spec.python),  # never the working directory on sys.path
                )
                sampler = TreeSampler(proc.pid, period_s)
            with sampler:
                returncode = _wait(proc, deadline_s)
        except BaseException:  # Ctrl-C, SIGTERM or an error here: the child and its workers must not outlive us
            if proc is not None:
                _stop_child(proc)
            raise
        finally:
            if sampler is not None:
                with interrupts.deferred():  # a signal arriving now must not leave half the strays alive
                    kill_tree(sampler.survivors())  # strays a crashed or interrupted child left behind
        if returncode is None:
            return RunResult(
                spec=spec.to_dict(),
                error=f"stopped at its deadline of {deadline_s:.3g} s",
                elapsed_s=time.perf_counter() - started,
            )
        if interrupts.ended_by_signal(returncode):
            raise KeyboardInterrupt
        if returncode == EXIT_CANNOT_WRITE and not result_path.exists():
            raise _no_room("the run process could not write its result")
        if not result_path.exists():
            return RunResult(spec=spec.to_dict(), error=f"run process died (exit status {returncode})")
        payload = json.loads(result_path.read_text())
    if "usage_error" in payload:
        raise UsageError(payload["usage_error"])
    result = RunResult.from_dict(payload["result"])
    window = payload.get("window", {})
    if window.get("end_tree"):  # the run process read its window's edges; the samples complete them
        span = (window["start"], window["end"])
        exclude = set(window.get("exclude", ()))
        account(
            result,
            window,
            sampled=sampler.peaks(*span, exclude=exclude),
            last_seen=sampler.last_seen(*span, exclude=exclude),
        )
        result.sample_period_s = period_s
    result.elapsed_s = time.perf_counter() - started
    return result
