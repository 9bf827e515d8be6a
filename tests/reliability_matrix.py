"""The fault matrix: every strategy × every fault × both workloads, defined once for the tests and the long run.

A *cell* is (strategy, fault, workload). Each fault states its expected verdict:

- ``exact``: which items fail is a pure function of the fault draws and the retry budget, so it is predicted
  here, independently of the run: the run must fail exactly those items (each named, with the fault's error)
  and be correct when none is predicted;
- ``reference``: the retries must bridge every fault: output equal to the reference;
- ``accounted``: the outcome depends on timing (a server that dies mid-run), so the run must either equal the
  reference or end incomplete with every failure explicit and of the expected kind.

Every verdict also requires that the run ended (a generous timeout guards against hangs), that the counts add
up (items with a value + failed items = items, the unique failures = the give-ups) and that a complete run is
correct (never a silent wrong total).

Run as a script for the long matrix (bigger cases, several seeds, every cell, through the real CLI); it prints
the Markdown table of ``docs/reliability.md``::

    python tests/reliability_matrix.py [--quick] [--no-ray] [--jobs N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STRATEGIES = ("sequential", "threads", "asyncio", "processes", "hybrid", "ray")
IN_WORKERS = ("processes", "hybrid", "ray")  # strategies whose items run in worker processes (crashes can fire)
WORKLOADS = ("anagrams", "scoring")
CASES = {"ci": {"anagrams": "medium", "scoring": "small"}, "long": {"anagrams": "large", "scoring": "1k"}}
SEEDS = {"ci": (1,), "long": (0, 1)}
# Faults the default test run meets in other files (the long run still has every cell of them):
COVERED_ELSEWHERE = {
    "stopped worker": "tests/test_strategy_faults.py::test_a_stopped_worker_is_killed_and_its_items_run_again",
    "oversized answers": "tests/test_hostile_sources.py (both clients, /health and /stats, a whole run)",
    "hostile bytes": "tests/test_hostile_sources.py (server answers, saved files, file names, input lines)",
    "hang-up": "tests/test_signals.py::test_a_hang_up_mid_compare_stops_everything_and_keeps_the_finished_runs",
    "full disk": "tests/test_bad_input.py::test_a_temporary_directory_that_takes_no_more_bytes_is_one_line",
    "exceptions 0.1": "tests/test_strategies.py (rates 0-0.5, every strategy against the reference)",
    "exceptions 0.3": "orchbench.testing.StrategyContract.test_correct_under_faults_with_retries (every strategy)",
    "hangs": "tests/test_strategy_faults.py::test_hung_attempts_end_at_the_timeout_and_are_retried",
    "worker crashes": "tests/test_strategy_faults.py and StrategyContract.test_survives_worker_crashes",
}
RUN_TIMEOUT_S = 600.0  # "never a hang": generous, not a speed limit

CHEAPEST_FIRST = ("threads", "asyncio", "sequential", "hybrid", "processes", "ray")
NO_WAIT = {"base": 0.0, "cap": 0.0}
TRANSPORT = r"ConnectionDropped|RequestTimeout|AttemptTimeout"


@dataclass(frozen=True)
class Fault:
    """One fault of the matrix: what it sets, on which workloads and strategies, and what must come out."""

    name: str
    exercises: str
    expect: str  # exact | reference | accounted
    error: str = ""  # regex every failure's error must match
    workloads: tuple[str, ...] = WORKLOADS
    strategies: tuple[str, ...] = STRATEGIES
    spec: dict[str, Any] = field(default_factory=dict)  # RunSpec fields
    server: dict[str, Any] = field(default_factory=dict)  # scoring server settings (workload options)
    case: str | None = None  # a fixed case, whatever the size
    restart: bool = False  # an external server, killed with SIGKILL mid-run and started again on its port
    ci_strategy: str | None = None  # the strategy of its test-suite cell, when the rotation's would be too slow
    ci: bool = True  # False: in the long run only (the suite covers it elsewhere, see ``COVERED_ELSEWHERE``)
    hostile: str = ""  # scoring against a hostile server on loopback: "oversized" answers, or "bytes"
    action: str = ""  # done to the run from outside: "stop a worker", "hang up", "no room" (CLI runs only)


def _harness(rate: float = 0.0, **spec: Any) -> dict[str, Any]:
    return {"fault_rate": rate, **spec}


FAULTS: tuple[Fault, ...] = (
    Fault(
        "exceptions 0.1",
        "a plain exception on 10 % of attempts (every task); 3 attempts",
        "exact",
        "InjectedFault",
        ci=False,
        spec=_harness(0.1, retry_options={"max_attempts": 3, **NO_WAIT}),
    ),
    Fault(
        "exceptions 0.3",
        "as above at 30 %",
        "exact",
        "InjectedFault",
        ci=False,
        spec=_harness(0.3, retry_options={"max_attempts": 3, **NO_WAIT}),
    ),
    Fault(
        "exceptions 0.5",
        "as above at 50 %: many items and some prepare stages fail for good",
        "exact",
        "InjectedFault",
        spec=_harness(0.5, retry_options={"max_attempts": 3, **NO_WAIT}),
    ),
    Fault(
        "hangs",
        "30 % of attempts never return; the 0.2 s attempt timeout cuts them; 2 attempts",
        "exact",
        "AttemptTimeout",
        ci=False,
        workloads=("anagrams",),
        spec=_harness(hang_rate=0.3, retry_options={"max_attempts": 2, "timeout": 0.2, **NO_WAIT}),
    ),
    # Real requests on a loaded machine may take longer than 0.2 s: a timeout far above them keeps the cut
    # attempts exactly the hung ones (the 50-line case keeps the waits short).
    Fault(
        "hangs",
        "30 % of attempts never return; the 2 s attempt timeout cuts them; 2 attempts",
        "exact",
        "AttemptTimeout",
        ci=False,
        workloads=("scoring",),
        case="small",
        spec=_harness(hang_rate=0.3, retry_options={"max_attempts": 2, "timeout": 2.0, **NO_WAIT}),
    ),
    Fault(
        "worker crashes",
        "20 % of first attempts in a worker process SIGKILL it; the batch is resubmitted",
        "exact",
        "InjectedFault",
        strategies=IN_WORKERS,
        ci=False,
        spec=_harness(0.05, crash_rate=0.2, retry_options={"max_attempts": 3, **NO_WAIT}),
    ),
    Fault(
        "slow outliers",
        "10 % of answers take 0.5 s instead of ~10 ms",
        "reference",
        workloads=("scoring",),
        server={"latency_median": 0.01, "slow_rate": 0.1, "slow_latency": 0.5},
    ),
    Fault(
        "429 Retry-After",
        "2 requests in flight at most; the rest get 429 with Retry-After 0.02 s",
        "reference",
        workloads=("scoring",),
        server={"latency_median": 0.005, "capacity": 2, "retry_after": 0.02},
        spec={"retry_options": {"max_attempts": 1000, "base": 0.001, "cap": 0.05}},
    ),
    Fault(
        "503",
        "30 % of requests answered 503 with Retry-After 0.01 s; 3 attempts",
        "exact",
        r"TransientHTTPError: HTTP 503",
        workloads=("scoring",),
        server={"rate_503": 0.3, "retry_after": 0.01},
        spec={"retry_options": {"max_attempts": 3, **NO_WAIT}},
    ),
    Fault(
        "dropped connections",
        "30 % of connections closed without an answer; 3 attempts",
        "exact",
        "ConnectionDropped",
        workloads=("scoring",),
        server={"drop_rate": 0.3},
        spec={"retry_options": {"max_attempts": 3, **NO_WAIT}},
    ),
    Fault(
        "malformed bodies",
        "30 % of 200 answers with a broken or score-less JSON body; 3 attempts",
        "exact",
        "MalformedResponse",
        workloads=("scoring",),
        server={"malformed_rate": 0.3},
        spec={"retry_options": {"max_attempts": 3, **NO_WAIT}},
    ),
    Fault(
        "server never answers",
        "every request accepted and never answered; 2 attempts cut at 0.2 s",
        "exact",
        "AttemptTimeout",
        workloads=("scoring",),
        server={"hang_rate": 1.0},
        case="small",
        ci_strategy="asyncio",
        spec={"retry_options": {"max_attempts": 2, "timeout": 0.2, **NO_WAIT}},
    ),
    Fault(
        "server dies mid-run",
        "the server SIGKILLs itself at its 12th request and stays dead; 4 attempts",
        "accounted",
        TRANSPORT,
        workloads=("scoring",),
        server={"latency_median": 0.02, "die_after": 12},
        spec={"retry": "fixed", "retry_options": {"max_attempts": 4, "delay": 0.05}},
    ),
    Fault(
        "server killed and restarted",
        "`orchbench serve` killed with SIGKILL mid-run, a new one started on its port; retries bridge the gap",
        "reference",
        workloads=("scoring",),
        restart=True,
        spec={"retry": "fixed", "retry_options": {"max_attempts": 150, "delay": 0.1}},
    ),
    # A pool worker stopped as soon as it exists (busy or idle); anagrams with 20 ms of CPU per attempt, so that
    # its run is long enough to meet the stop (on an event loop that CPU would push scoring's attempts past 1 s).
    Fault(
        "stopped worker",
        "one pool worker stopped with SIGSTOP as soon as it exists; 1 s attempt timeout, so "
        "it is silent past 6 s, killed, and its items run again; 20 ms of CPU per attempt",
        "reference",
        workloads=("anagrams",),
        strategies=("processes", "hybrid"),
        ci=False,
        action="stop a worker",
        spec=_harness(0.0, cpu_ms=20.0, retry_options={"timeout": 1.0}),
    ),
    Fault(
        "stopped worker",
        "one pool worker stopped with SIGSTOP as soon as it exists; 1 s attempt timeout, so "
        "it is silent past 6 s, killed, and its items run again",
        "reference",
        workloads=("scoring",),
        strategies=("processes", "hybrid"),
        ci=False,
        action="stop a worker",
        spec={"retry_options": {"timeout": 1.0}},
    ),
    Fault(
        "oversized answers",
        "every answer a body just above the client's 1 MiB cap; 2 attempts",
        "exact",
        "MalformedResponse: .*(more than|exceeds)",
        workloads=("scoring",),
        case="small",
        ci=False,
        hostile="oversized",
        spec={"retry_options": {"max_attempts": 2, **NO_WAIT}},
    ),
    Fault(
        "hostile bytes",
        "input lines, /stats keys and values full of escape sequences and rich markup; 30 % "
        "exceptions, 2 attempts; the table printed as well",
        "exact",
        "InjectedFault",
        workloads=("scoring",),
        ci=False,
        hostile="bytes",
        spec=_harness(0.3, retry_options={"max_attempts": 2, **NO_WAIT}),
    ),
    Fault(
        "hang-up",
        "SIGHUP to the run's process group once the run works",
        "clean end",
        ci=False,
        action="hang up",
        spec=_harness(0.0, cpu_ms=20.0),
    ),
    Fault(
        "full disk",
        "a file size limit of 0: every byte written is refused, as on a full disk",
        "clean end",
        workloads=("anagrams",),
        ci=False,
        action="no room",
    ),
)

HOSTILE_TEXT = "\x1b]0;owned\x07\x1b[2J\x1b[31m[/usr/bin][bold]\u202e"
HOSTILE_LINES = [f"line {i} {HOSTILE_TEXT} [link=file:///etc/passwd]x[/link]" for i in range(40)] + ["", "   "]


@dataclass(frozen=True)
class Cell:
    strategy: str
    fault: Fault
    workload: str

    @property
    def id(self) -> str:
        return f"{self.workload}-{self.fault.name.replace(' ', '_')}-{self.strategy}"


def cells(strategies: tuple[str, ...] = STRATEGIES) -> list[Cell]:
    """Every cell of the matrix, workload by workload, fault by fault."""
    return [
        Cell(s, f, w) for w in WORKLOADS for f in FAULTS if w in f.workloads for s in f.strategies if s in strategies
    ]


def ci_cells() -> list[Cell]:
    """One cell per (fault, workload) not covered elsewhere in the suite, each time the least used built-in
    strategy of that workload (the cheaper first): the slice that fits the test suite's time budget."""
    picked = []
    used: dict[tuple[str, str], int] = {}
    for group in _groups([c for c in cells(STRATEGIES[:-1]) if c.fault.ci]):
        pinned = [c for c in group if c.strategy == group[0].fault.ci_strategy]
        cell = pinned[0] if pinned else min(group, key=lambda c: _ci_rank(c, used.get((c.workload, c.strategy), 0)))
        used[cell.workload, cell.strategy] = used.get((cell.workload, cell.strategy), 0) + 1
        picked.append(cell)
    return picked


def _ci_rank(cell: Cell, used: int) -> tuple[int, int, int]:
    """Unused strategies first; once each is met, threads and asyncio in turn (the cheap ones)."""
    cheap = cell.strategy in CHEAPEST_FIRST[:2]
    return (used > 0, used if cheap else 1000, CHEAPEST_FIRST.index(cell.strategy))


def _groups(all_cells: list[Cell]) -> list[list[Cell]]:
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in all_cells:
        groups.setdefault((cell.workload, cell.fault.name), []).append(cell)
    return list(groups.values())


# -- specs ----------------------------------------------------------------------------------------------------


def strategy_options(strategy: str, ray_address: str | None = None) -> dict[str, Any]:
    if strategy in ("processes", "hybrid"):
        return {"workers": 2}
    if strategy == "ray":
        return {"actors": 2, "batch": 3, **({"address": ray_address} if ray_address else {})}
    return {}


def spec_for(cell: Cell, size: str, seed: int, *, ray_address: str | None = None):
    """The RunSpec of one run of ``cell``."""
    from orchbench.types import RunSpec

    fields = dict(cell.fault.spec)
    scenario = "fast" if cell.workload == "anagrams" else "none"
    if cell.workload == "anagrams":
        fields.setdefault("fault_rate", 0.0)  # only the cell's faults, not the scenario's
    options = dict(cell.fault.server) if cell.workload == "scoring" else {}
    case = cell.fault.case or CASES[size][cell.workload]
    if cell.fault.hostile == "bytes":
        case, fields["input_path"] = None, _hostile_input()
    return RunSpec(
        strategy=cell.strategy,
        workload=cell.workload,
        case=case,
        scenario=scenario,
        seed=seed,
        retry=fields.pop("retry", "exponential"),
        retry_options=fields.pop("retry_options", {}),
        workload_options=options,
        strategy_options=strategy_options(cell.strategy, ray_address),
        **fields,
    )


def _hostile_input() -> str:
    path = Path(os.environ.get("TMPDIR", "/tmp"), f"orchbench-matrix-hostile-{os.getpid()}.txt")
    if not path.exists():
        path.write_text("\n".join(HOSTILE_LINES) + "\n", encoding="utf-8")
    return str(path)


# -- prediction -----------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    items: list[Any]  # every item, in order
    unique: list[Any]
    positions: list[int]  # how many items share each unique item's key
    failing: set[int]  # positions in ``unique`` that must fail
    prepare_fails: bool = False
    stages: int = 0  # prepare stage calls (each one attempt when it has no fault)


def predict(spec: Any, every_line_fails: bool = False) -> Prediction:
    """Which items must fail under ``spec``'s deterministic faults and retry budget, computed without running it
    (``every_line_fails``: a server none of whose answers is ever a score)."""
    from orchbench.harness.faults import FaultModel, apply_overrides
    from orchbench.harness.plugins import get_registry
    from orchbench.runtime.cache import ResourceCache

    registry = get_registry()
    workload = registry.workload(spec.workload)(spec, ResourceCache())
    budget = registry.retry_policy(spec.retry)(**spec.retry_options).options["max_attempts"]
    faults = FaultModel(spec.seed, apply_overrides(workload.task_profiles(spec.scenario), spec))
    raw = workload.load_input()
    calls: list[str] = []
    items = workload.prepare(raw, lambda name, fn, arg: calls.append(name) or fn(arg))
    by_key: dict[Any, list[Any]] = {}
    for item in items:
        by_key.setdefault(workload.item_key(item), []).append(item)
    unique = [group[0] for group in by_key.values()]
    positions = [len(group) for group in by_key.values()]
    stages = [task for task in faults.profiles if task != workload.map_task]
    if any(faults.attempts_to_succeed(stage, 0, budget + 1) > budget for stage in stages):
        return Prediction(items, unique, positions, set(), prepare_fails=True)
    failing = {i for i in range(len(unique)) if faults.attempts_to_succeed(workload.map_task, i, budget + 1) > budget}
    if every_line_fails:  # every line sent fails (blank lines too, when they are sent)
        from orchbench.workloads.scoring.scores import is_blank

        failing |= {i for i, line in enumerate(unique) if workload.options.get("send_blank") or not is_blank(line)}
    elif spec.workload == "scoring":
        failing |= _server_failures(workload, unique, budget)
    return Prediction(items, unique, positions, failing, stages=len(calls))


def _server_failures(workload: Any, unique: list[str], budget: int) -> set[int]:
    """Lines whose first ``budget`` admitted requests all meet a server fault (no capacity limit: every request
    is admitted, so the server's draws line up with the client's attempts)."""
    from orchbench.workloads.scoring.scores import is_blank
    from orchbench.workloads.scoring.server import Kind, decide

    config = workload.server_config()
    assert not config.capacity, "server failures are predictable only without a capacity limit"
    return {
        i
        for i, line in enumerate(unique)
        if not is_blank(line) and all(decide(config, line.encode(), k).kind is not Kind.OK for k in range(budget))
    }


# -- verdict --------------------------------------------------------------------------------------------------


def _shown(item: Any, limit: int = 80) -> str:
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check(cell: Cell, spec: Any, result: dict[str, Any]) -> str:
    """The cell's outcome in a word (``reference`` or ``explicit``), or AssertionError saying what is wrong."""
    items, failed, succeeded = result["items"], result["failed"], result["succeeded"]
    assert result["error"] is None or result["error"].startswith("prepare failed"), result["error"]
    assert succeeded + failed == items, f"{succeeded} ok + {failed} failed != {items} items"
    unique_failed = result["give_ups"] - (1 if result["error"] else 0)
    listed = result["failures"]
    assert len(listed) == unique_failed, f"{len(listed)} listed for {unique_failed}"
    assert sum(f["positions"] for f in listed) == failed, "failed positions do not add up"
    for failure in listed:
        assert failure["error"] and re.search(cell.fault.error or ".", failure["error"]), failure
    if result["complete"]:
        assert result["correct"] is True, "a complete run with a wrong output"
        assert failed == 0 and not listed
    else:
        assert result["correct"] is False and (failed > 0 or result["error"])
    expect = cell.fault.expect
    if expect == "reference":
        assert result["complete"] and result["correct"], f"expected the reference, got {listed[:3] or result['error']}"
    elif expect == "exact":
        p = _check_prediction(spec, result, unique_failed, every_line_fails=cell.fault.hostile == "oversized")
        if cell.fault.hostile == "oversized":  # each answer too long is one failed attempt, counted
            budget = spec.retry_options["max_attempts"]
            expected = budget * len(p.failing) + len(p.unique) - len(p.failing) + p.stages  # blank lines: 1 each
            assert result["attempts"] == expected, f"{result['attempts']} attempts counted, {expected} expected"
    return "reference" if result["complete"] else "explicit"


def _check_prediction(
    spec: Any, result: dict[str, Any], unique_failed: int, every_line_fails: bool = False
) -> Prediction:
    p = predict(spec, every_line_fails)
    if p.prepare_fails:
        assert result["error"] and result["error"].startswith("prepare failed"), "a prepare stage should fail"
        return p
    assert result["error"] is None, result["error"]
    assert result["items"] == len(p.items) and result["unique_items"] == len(p.unique)
    assert unique_failed == len(p.failing), f"{unique_failed} items failed, {len(p.failing)} predicted"
    expected = {_shown(p.unique[i]) for i in p.failing}
    assert {f["item"] for f in result["failures"]} == expected, "the failed items differ from the predicted ones"
    assert result["failed"] == sum(p.positions[i] for i in p.failing), "failed positions differ"
    return p


# -- running a cell -------------------------------------------------------------------------------------------


def _cli_args(spec: Any) -> list[str]:
    source = ["--input", spec.input_path] if spec.input_path else ["--test-case", spec.case]
    scenario = [] if spec.workload_options.get("url") else ["--scenario", spec.scenario]  # a URL has its own
    args = [
        "run",
        spec.strategy,
        "--workload",
        spec.workload,
        *source,
        *scenario,
        "--seed",
        str(spec.seed),
        "--retry",
        spec.retry,
        "--json",
    ]
    for name in ("fault_rate", "hang_rate", "crash_rate", "cpu_ms"):
        value = getattr(spec, name)
        if value is not None:
            args += ["--" + name.replace("_", "-"), repr(value)]
    for prefix, options in (
        ("strategy", spec.strategy_options),
        ("retry", spec.retry_options),
        ("workload", {k: v for k, v in spec.workload_options.items() if k != "url"}),
    ):
        for key, value in options.items():
            args += ["--set", f"{prefix}.{key}={value}"]
    if spec.workload_options.get("url"):
        args += ["--url", spec.workload_options["url"]]
    if spec.reference_path:
        args += ["--reference", spec.reference_path]
    return args


def _env(ray: bool) -> dict[str, str]:
    return {**os.environ, "ORCHBENCH_PLUGINS": "orchbench-ray" if ray else "", "RAY_USAGE_STATS_ENABLED": "0"}


def run_cli(
    spec: Any, *, timeout: float = RUN_TIMEOUT_S, started: threading.Event | None = None, pids: list[int] | None = None
) -> dict[str, Any]:
    """Run the spec through ``orchbench run … --json`` in a subprocess; its result as a dict."""
    cmd = [sys.executable, "-m", "orchbench", *_cli_args(spec)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_env(spec.strategy == "ray"),
        start_new_session=True,
    )
    if pids is not None:
        pids.append(proc.pid)
    if started is not None:
        started.set()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"the run did not end within {timeout:g} s: {' '.join(cmd)}") from None
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"exit {proc.returncode}, no JSON result: {err.strip()[-2000:]}") from None


def run_here(
    spec: Any, *, timeout: float = RUN_TIMEOUT_S, started: threading.Event | None = None, pids: list[int] | None = None
) -> dict[str, Any]:
    """Run the spec in this process (in a thread, so that a hang fails the test instead of stopping it)."""
    if pids is not None:
        pids.append(os.getpid())
    from orchbench.harness.runner import execute

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = execute(spec).to_dict()
        except BaseException as exc:  # reported below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    if started is not None:
        started.set()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"the run did not end within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


# -- the server killed and restarted --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, timeout: float = 60.0) -> subprocess.Popen[str]:
    """``orchbench serve`` on ``port`` (every request waits 50 ms, no fault), once it is listening."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchbench",
            "serve",
            "--port",
            str(port),
            "--scenario",
            "none",
            "--latency-median",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(False),
        start_new_session=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    assert line.startswith("scoring server on"), f"orchbench serve did not start: {line!r}"
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return proc
        time.sleep(0.05)
    raise AssertionError("orchbench serve is not listening")


def _requests(port: int) -> int:
    from orchbench.workloads.scoring.server import get_json

    try:
        return int(get_json(f"http://127.0.0.1:{port}", "/stats", timeout=2.0)["requests"])
    except (OSError, ValueError, KeyError):
        return -1


def run_with_restart(spec: Any, runner: Any, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``spec`` against an ``orchbench serve``; once it has answered some requests, kill it with SIGKILL and
    start another on the same port. Returns the result and what happened to the server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    servers = [start_server(port)]
    box: dict[str, Any] = {}
    started = threading.Event()
    spec = spec.replace(workload_options={"url": url})
    spec = spec.replace(reference_path=_local_reference(spec))
    thread = threading.Thread(target=lambda: box.update(result=_guard(runner, spec, started, **kwargs)), daemon=True)
    thread.start()
    events: dict[str, Any] = {}
    try:
        started.wait()
        while thread.is_alive() and _requests(port) < 8:
            time.sleep(0.02)
        events["requests_before_kill"] = _requests(port)
        events["killed_mid_run"] = thread.is_alive()
        if isinstance(box.get("result"), BaseException):
            raise box["result"]
        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait()
        servers.append(start_server(port))
        thread.join(RUN_TIMEOUT_S)
        events["requests_after_restart"] = _requests(port)
    finally:
        shutil.rmtree(Path(spec.reference_path).parent, ignore_errors=True)
        for proc in servers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    if "result" not in box:
        raise AssertionError("the run against the restarted server did not end")
    if isinstance(box["result"], BaseException):
        raise box["result"]
    return box["result"], events


def _local_reference(spec: Any) -> str:
    """A reference file for a run against ``orchbench serve`` (an outside service, as far as the run knows),
    computed here with orchbench's own score function."""
    import tempfile

    from orchbench.harness.verify import REFERENCE_SCHEMA, answer_options, input_digest
    from orchbench.results.document import save
    from orchbench.runtime.cache import ResourceCache
    from orchbench.workloads.scoring import ScoringWorkload
    from orchbench.workloads.scoring.scores import score_line, split_lines

    work = ScoringWorkload(spec, ResourceCache())
    raw = work.load_input()
    scores = [score_line(line) for line in split_lines(raw)]
    path = Path(tempfile.mkdtemp(prefix="orchbench-matrix-")) / "reference.json"
    save(
        path,
        {
            "schema": REFERENCE_SCHEMA,
            "workload": "scoring",
            "input": spec.case,
            "input_digest": input_digest(raw),
            "options": answer_options(work),
            "output": {"total": sum(scores), "scores": scores},
        },
    )
    return str(path)


def _guard(runner: Any, spec: Any, started: threading.Event, **kwargs: Any) -> Any:
    try:
        return runner(spec, started=started, **kwargs)
    except BaseException as exc:
        return exc


# -- hostile servers, a stopped worker, a hang-up, no room ------------------------------------------------------


@contextlib.contextmanager
def hostile_server(kind: str) -> Any:
    """A scoring server on loopback that answers every score too long ("oversized"), or honestly but with
    escape sequences and markup in its /stats ("bytes"); yields its URL."""
    from orchbench.workloads.scoring.client import MAX_ANSWER_BYTES
    from tests.hostile import answer, honest_score, http_server

    if kind == "oversized":
        server = http_server(post=answer(b" " * MAX_ANSWER_BYTES + b'{"score": 1}'))
    else:
        server = http_server(post=honest_score, stats=answer(json.dumps({HOSTILE_TEXT: HOSTILE_TEXT, "requests": 1})))
    with server as url:
        yield url


def check_shown(spec: Any) -> None:
    """The run's table (not --json) shows the hostile text as text: no escape sequence or control character
    reaches the terminal, no markup is taken for styling or fails."""
    cmd = [sys.executable, "-m", "orchbench", *[a for a in _cli_args(spec) if a != "--json"]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=_env(spec.strategy == "ray"))
    shown = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert "Traceback" not in shown and "MarkupError" not in shown, shown[-2000:]
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", shown), "raw control characters printed"
    assert "\\x1b]0;owned\\x07" in shown and "[/usr/bin]" in shown, "the hostile text is not shown as text"


def _pool_workers(root: int) -> list[Any]:
    import psutil

    try:
        tree = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return []
    workers = []
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            if "forkserver" in " ".join(proc.parent().cmdline()) and proc.pid != root:
                workers.append(proc)
    return workers


def run_stopping_a_worker(spec: Any, runner: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``spec``; once its pool's workers run, stop one with SIGSTOP (as ``kill -STOP`` does) and never
    continue it. Returns the result and what was done."""
    box: dict[str, Any] = {}
    started, pids = threading.Event(), []
    thread = threading.Thread(target=lambda: box.update(result=_guard(runner, spec, started, pids=pids)), daemon=True)
    thread.start()
    started.wait()
    events: dict[str, Any] = {"stopped_mid_run": False}
    while thread.is_alive() and not events["stopped_mid_run"]:
        workers = _pool_workers(pids[0])
        if workers:  # busy or idle: either must be noticed
            with contextlib.suppress(Exception):
                workers[0].suspend()
                events["stopped_mid_run"] = thread.is_alive()
        time.sleep(0.02)
    thread.join(RUN_TIMEOUT_S)
    if "result" not in box:
        raise AssertionError("the run with a stopped worker did not end")
    if isinstance(box["result"], BaseException):
        raise box["result"]
    return box["result"], events


def _no_room() -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write is then an error, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def run_ended_from_outside(cell: Cell, spec: Any) -> dict[str, Any]:
    """A hang-up (SIGHUP to the run's whole group once it works) or no room to write: the CLI must end with its
    conventional status and one clear last line, no traceback, no process and no temporary run directory left."""
    import tempfile

    import psutil

    started = time.monotonic()
    cmd = [sys.executable, "-m", "orchbench", *_cli_args(spec)]
    with tempfile.TemporaryDirectory(prefix="matrix-tmp-") as temp:
        env = {**_env(spec.strategy == "ray"), "TMPDIR": temp, "PYTHONDONTWRITEBYTECODE": "1"}
        hang_up = cell.fault.action == "hang up"
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=None if hang_up else _no_room,
        )
        seen: dict[int, Any] = {}
        deadline = time.monotonic() + RUN_TIMEOUT_S
        signalled = False
        while hang_up and proc.poll() is None and time.monotonic() < deadline and not signalled:
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    seen.setdefault(child.pid, child)
            working = [p for p in seen.values() if _safe_cmdline(p).find("orchbench.harness.child") >= 0]
            if working and (spec.strategy not in ("processes", "hybrid") or _pool_workers(proc.pid)):
                time.sleep(0.3)
                os.killpg(proc.pid, signal.SIGHUP)
                signalled = True
            time.sleep(0.02)
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"did not end within {RUN_TIMEOUT_S:g} s") from None
        _gone, alive = psutil.wait_procs(list(seen.values()), timeout=10)
        for p in alive:
            p.kill()
        leftovers = [p.name for p in Path(temp).iterdir()]
    lines = [line for line in err.splitlines() if line.strip()]
    expected = 129 if hang_up else 2
    assert not hang_up or signalled, f"the run ended before the hang-up: {err[-2000:]}"
    assert proc.returncode == expected, f"exit {proc.returncode}, expected {expected}: {err[-2000:]}"
    assert "Traceback" not in err, err[-2000:]
    if hang_up:
        assert lines[-1] == "orchbench: hung up (SIGHUP)", lines[-3:]
    else:
        assert len(lines) == 1 and "temporary directory" in lines[0], lines
    assert alive == [], [p.pid for p in alive]
    assert leftovers == [], leftovers
    return {
        "cell": cell.id,
        "seed": spec.seed,
        "outcome": "clean",
        "status": proc.returncode,
        "items": 0,
        "unique": 0,
        "failed": 0,
        "lost": 0,
        "elapsed_s": time.monotonic() - started,
    }


def _safe_cmdline(proc: Any) -> str:
    try:
        return " ".join(proc.cmdline())
    except Exception:
        return ""


def run_cell(cell: Cell, size: str, seed: int, *, cli: bool, ray_address: str | None = None) -> dict[str, Any]:
    """Run one cell once and check it; returns a record for the table (raises AssertionError on a failed check)."""
    spec = spec_for(cell, size, seed, ray_address=ray_address)
    runner = run_cli if cli else run_here
    started = time.monotonic()
    events: dict[str, Any] = {}
    if cell.fault.action in ("hang up", "no room"):
        assert cli, f"{cell.fault.name}: through the CLI only"
        return run_ended_from_outside(cell, spec)
    if cell.fault.restart:
        result, events = run_with_restart(spec, runner)
        assert events["killed_mid_run"], "the run ended before the server was killed"
        assert events["requests_after_restart"] > 0, "the new server answered nothing"
        spec = spec.replace(workload_options={})
    elif cell.fault.hostile:
        with hostile_server(cell.fault.hostile) as url:
            spec = spec.replace(workload_options={**spec.workload_options, "url": url})
            result = runner(spec)
            if cell.fault.hostile == "bytes" and cli:
                check_shown(spec)
    elif cell.fault.action == "stop a worker":
        result, events = run_stopping_a_worker(spec, runner)
        assert events["stopped_mid_run"], "the run ended before a worker was stopped"
    else:
        result = runner(spec)
    outcome = check(cell, spec, result)
    return {
        "cell": cell.id,
        "seed": seed,
        "outcome": outcome,
        "items": result["items"],
        "unique": result["unique_items"],
        "failed": result["failed"],
        "lost": result["items"] - result["succeeded"] - result["failed"],
        "elapsed_s": time.monotonic() - started,
        **events,
    }


# -- the long run as a script ---------------------------------------------------------------------------------


def table(records: list[dict[str, Any]], all_cells: list[Cell]) -> str:
    """The Markdown table: one row per (workload, fault), one column per strategy."""
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_cell.setdefault(record["cell"], []).append(record)
    strategies = [s for s in STRATEGIES if any(c.strategy == s for c in all_cells)]
    lines = [
        "| workload | fault | expected | " + " | ".join(strategies) + " |",
        "|---|---|---|" + "---|" * len(strategies),
    ]
    for group in _groups(all_cells):
        first = group[0]
        row = [first.workload, first.fault.name, first.fault.expect]
        for s in strategies:
            cell = next((c for c in group if c.strategy == s), None)
            row.append("n/a" if cell is None else _summary(by_cell.get(cell.id, [])))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _summary(records: list[dict[str, Any]]) -> str:
    if not records:
        return "not run"
    if any(r["outcome"] == "FAIL" for r in records):
        return "**FAIL**"
    if all(r["outcome"] == "clean" for r in records):
        return f"{len(records)}× clean end ({', '.join(sorted({str(r['status']) for r in records}))})"
    ref = sum(r["outcome"] == "reference" for r in records)
    explicit = len(records) - ref
    parts = ([f"{ref}× ref"] if ref else []) + (
        [f"{explicit}× explicit ({sum(r['failed'] for r in records if r['outcome'] == 'explicit')} failed)"]
        if explicit
        else []
    )
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    from tests.ray_head import ray_head

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI sizes and one seed")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray cells")
    parser.add_argument(
        "--only", default="", help="run only cells whose id contains this text (or one of these comma-separated texts)"
    )
    parser.add_argument("--log", default=None, help="append one JSON line per run to this file")
    parser.add_argument(
        "--from-log",
        nargs="+",
        default=None,
        metavar="LOG",
        help="run nothing: print the table of the runs recorded in these --log files",
    )
    args = parser.parse_args(argv)
    size = "ci" if args.quick else "long"
    chosen = [
        c
        for c in cells(STRATEGIES[:-1] if args.no_ray else STRATEGIES)
        if any(text in c.id for text in args.only.split(","))
    ]
    if args.from_log:
        latest = {}  # a cell's later run of a seed (a rerun) replaces the earlier one
        for path in args.from_log:
            for line in Path(path).read_text().splitlines():
                if line:
                    record = json.loads(line)
                    latest[record["cell"], record["seed"]] = record
        records = list(latest.values())
        ran = {r["cell"] for r in records}
        return report([c for c in chosen if c.id in ran], records, sum(r.get("elapsed_s", 0) for r in records))
    records = []
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        wants_ray = not args.no_ray and any(c.strategy == "ray" for c in chosen)
        address = stack.enter_context(ray_head()) if wants_ray else None
        for cell in chosen:
            seeds = SEEDS[size] if cell.fault.expect == "exact" else SEEDS[size][:1]
            for seed in seeds:
                try:
                    record = run_cell(cell, size, seed, cli=True, ray_address=address)
                except AssertionError as exc:
                    record = {
                        "cell": cell.id,
                        "seed": seed,
                        "outcome": "FAIL",
                        "why": str(exc)[:2000],
                        "items": 0,
                        "unique": 0,
                        "failed": 0,
                        "lost": None,
                    }
                records.append(record)
                print(json.dumps(record), file=sys.stderr, flush=True)
                if args.log:
                    with open(args.log, "a") as log:
                        log.write(json.dumps(record) + "\n")
    return report(chosen, records, time.monotonic() - started)


def report(chosen: list[Cell], records: list[dict[str, Any]], seconds: float) -> int:
    """Print the table and its figures; non-zero when a cell failed its check."""
    failed = [r for r in records if r["outcome"] == "FAIL"]
    print(table(records, chosen))
    print()
    lost = "unknown (a check failed)" if failed else sum(r["lost"] for r in records)
    print(
        f"cells: {len(chosen)} · runs: {len(records)} · items: {sum(r['items'] for r in records):,} "
        f"({sum(r['unique'] for r in records):,} distinct) · items failed explicitly: "
        f"{sum(r['failed'] for r in records):,} · items lost: {lost} · runs failing their check: {len(failed)} · "
        f"run time {seconds / 60:.0f} min"
    )
    for r in failed:
        print(f"FAIL {r['cell']} seed {r['seed']}: {r['why']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make ``tests`` importable
    sys.exit(main())
