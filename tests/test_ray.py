"""The Ray plugin (plugins/orchbench-ray): a real local Ray cluster, real actor processes, real signals.

One cluster (``ray start --head``) serves the session; two more tests start a Ray of their own, because that
is what they test (the local default, and Ctrl-C). Every test that starts Ray is marked ``ray``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from orchbench.harness.isolate import kill_tree
from orchbench.harness.plugins import get_registry
from orchbench.testing import StrategyContract, assert_matches_reference, run_spec

pytest.importorskip("orchbench_ray", reason="the orchbench-ray plugin is not installed")

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _load_the_ray_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite loads built-ins only; these tests add the Ray plugin (their runs' child processes inherit it)."""
    monkeypatch.setenv("ORCHBENCH_PLUGINS", "orchbench-ray")


READY_S = 180.0
ACTOR_BUSY = "BatchWorker.run_batch"  # in the process title of an actor (sync or async) while it runs a batch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ORCHBENCH_PLUGINS")}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0", **extra}


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _titled(procs: list[psutil.Process], title: str) -> list[psutil.Process]:
    found = []
    for proc in procs:
        try:
            if title in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def orchbench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "orchbench"), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# -- without Ray running --------------------------------------------------------------------------------------


def test_listed_with_its_distribution_without_importing_ray() -> None:
    code = (
        "import sys, json; from orchbench.cli.list_cmd import inventory; data = inventory(); "
        "print(json.dumps([data, 'ray' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    data, ray_imported = json.loads(out.stdout)
    [row] = [r for r in data["items"] if r["kind"] == "strategy" and r["name"] == "ray"]
    assert (row["distribution"], row["plugin"]) == ("orchbench-ray", "ray") and row["version"]
    assert row["options"] == ["actors", "address", "batch", "concurrency", "dashboard", "inflight"]
    assert ray_imported is False


def test_bad_options_are_one_line_before_ray_starts() -> None:
    bad = orchbench("run", "ray", "--set", "actors=0")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "orchbench: error: option actors='0' is below its minimum 1 (accepted: a whole number of at least 1)"
    )
    nobody = orchbench(
        "run", "ray", "--test-case", "small", "--scenario", "none", "--set", f"address=127.0.0.1:{_free_port()}"
    )
    assert nobody.returncode == 2, nobody.stderr
    assert nobody.stderr.startswith("orchbench: error: ray: cannot reach the Ray cluster at 127.0.0.1:")
    assert len(nobody.stderr.strip().splitlines()) == 1


# -- on the session's cluster ---------------------------------------------------------------------------------


class TestRayContract(StrategyContract):
    """The standard battery, in this process, on the session's cluster; crash faults kill actors."""

    pytestmark = pytest.mark.ray
    strategy = "ray"
    crashes = True

    @pytest.fixture
    def strategy_options(self, ray_cluster: str) -> dict[str, Any]:
        return {"address": ray_cluster, "batch": 3}


def _workloads() -> list[str]:
    return get_registry().names("workload")


@pytest.mark.ray
@pytest.mark.slow  # ~20 s each: Ray retries its connection before it gives up
@pytest.mark.parametrize("mode", ["no token", "a wrong token"])
def test_a_cluster_that_wants_a_token_gets_one_line_saying_what_to_set(
    ray_cluster: str, mode: str, tmp_path: Path
) -> None:
    """The session's cluster authenticates with a token: a driver without RAY_AUTH_MODE=token (or with another
    token) is told in one line what to set, instead of Ray's line a second and an error naming another address."""
    env = {k: v for k, v in _env().items() if not k.startswith("RAY_AUTH")}
    if mode == "a wrong token":
        wrong = tmp_path / "token"
        wrong.write_text("0" * 64)
        env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(wrong)}
    ran = subprocess.run(
        [str(BIN / "orchbench"), "run", "ray", "-t", "small", "--scenario", "none", "--set", f"address={ray_cluster}"],
        env={**env, "ORCHBENCH_PLUGINS": "orchbench-ray"},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 2
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith(f"orchbench: error: ray: the Ray cluster at {ray_cluster} ")
    assert "RAY_AUTH_TOKEN_PATH" in line and "InvalidAuthToken" not in line
    assert ("requires token authentication: set RAY_AUTH_MODE to token" in line) == (mode == "no token")


@pytest.mark.ray
@pytest.mark.parametrize("workload", _workloads())
def test_cluster_runs_each_workload_through_the_cli(ray_cluster: str, workload: str) -> None:
    cls = get_registry().workload(workload)
    args = ["run", "ray", "--workload", workload, "--set", f"address={ray_cluster}", "--json"]
    if "fast" in cls.scenarios:
        args += ["--scenario", "fast"]
    if "medium" in cls.cases:
        args += ["--test-case", "medium"]
    ran = orchbench(*args)
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout)
    assert result["correct"] is True and result["succeeded"] == result["items"] > 0
    assert result["spec"]["strategy_options"] == {"address": ray_cluster}


@pytest.mark.ray
def test_actor_killed_mid_run_is_survived(ray_cluster: str, capfd: pytest.CaptureFixture[str]) -> None:
    me = psutil.Process()  # the session's cluster runs under this process
    killed: list[int] = []
    stop = threading.Event()

    def kill_a_busy_actor() -> None:
        while not stop.is_set() and not killed:
            for proc in _titled(me.children(recursive=True), ACTOR_BUSY):
                try:
                    proc.send_signal(signal.SIGKILL)
                    killed.append(proc.pid)
                    return
                except psutil.Error:
                    continue
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_actor, daemon=True)
    killer.start()
    try:
        # 50 ms per word, batches of 4: a few seconds of work, so the kill lands mid-run.
        result = run_spec(
            "ray",
            case="large",
            scenario="original",
            latency_scale=0.2,
            strategy_options={"address": ray_cluster, "batch": 4},
        )
    finally:
        stop.set()
        killer.join()
    assert killed, "no busy actor was found to kill"
    assert_matches_reference(result)
    assert result.succeeded == result.items and result.give_ups == 0
    assert "sending it again as generation 1" in capfd.readouterr().err


WHERE_PLUGIN = """
import os
import sys

import orchbench


@orchbench.workload("where", items=lambda source: [1, 2, 3], cases={"three": "-"})
def where(item):
    return [os.getcwd(), any(p in ("", os.getcwd()) for p in sys.path)]


@orchbench.hookimpl
def orchbench_workloads():
    return [where]
"""


@pytest.mark.ray
def test_actors_work_in_the_drivers_directory_without_importing_from_it(ray_cluster: str, tmp_path: Path) -> None:
    """Ray puts the driver's directory first on its workers' path: a module there named like one the actors import
    would run in them (a process pool's workers never import from it). The actors still work in that directory."""
    (tmp_path / "tenacity.py").write_text(
        "open(__file__ + '.ran', 'w').close()\nraise ImportError('the directory shadowed tenacity')\n"
    )
    plugin = tmp_path / "where_plugin.py"
    plugin.write_text(WHERE_PLUGIN, encoding="utf-8")
    command = ["run", "ray", "-p", str(plugin), "-w", "where", "--set", f"address={ray_cluster}", "--json"]
    proc = subprocess.run(
        [str(BIN / "orchbench"), *command],
        cwd=tmp_path,
        env=_env(ORCHBENCH_PLUGINS="orchbench-ray"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == [[str(tmp_path), False]] * 3
    assert not (tmp_path / "tenacity.py.ran").exists()


# -- a Ray of their own ---------------------------------------------------------------------------------------


class Watcher:
    """Every process that appears under ``root``, with its title, while watching; processes in ``ignore`` and
    their descendants are left out."""

    def __init__(self, root: psutil.Process, ignore: set[int] = frozenset()) -> None:
        self.root, self.ignore = root, ignore
        self.procs: dict[int, psutil.Process] = {}
        self.titles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def look(self) -> None:
        for proc in _tree(self.root)[1:]:
            try:
                if proc.pid in self.ignore or any(parent.pid in self.ignore for parent in proc.parents()):
                    continue  # e.g. a worker the session's cluster starts meanwhile
            except psutil.Error:
                continue
            self.procs.setdefault(proc.pid, proc)
            try:
                self.titles[proc.pid] = " ".join(proc.cmdline())
            except psutil.Error:
                pass

    def titled(self, title: str) -> list[int]:
        return [pid for pid, text in self.titles.items() if title in text]

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.look()
            time.sleep(0.05)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def survivors(self, timeout: float) -> list[psutil.Process]:
        _, alive = psutil.wait_procs(list(self.procs.values()), timeout=timeout)
        return alive

    def kill_all(self) -> None:
        kill_tree([p for p in self.procs.values() if p.is_running()])


@pytest.mark.ray
def test_local_ray_by_default_is_correct_and_ends_with_the_run(ray_cluster: str) -> None:
    me = psutil.Process()
    with Watcher(me, ignore={p.pid for p in me.children(recursive=True)}) as watcher:
        try:
            result = run_spec("ray", case="medium", scenario="fast")
        except BaseException:
            watcher.kill_all()
            raise
    try:
        assert_matches_reference(result)
        assert result.startup_s > 0
        acc = result.time_account  # Ray and its actors start before the window, apart; the actors' items are seen
        assert acc["startup"]["before_window_s"] == result.startup_s
        seen = sum(row["items"] for row in acc["per_worker"])
        assert seen == result.unique_items, (acc["notes"], result.strategy_stats, result.resolved_options)
        assert all(acc["parts"][part] is not None for part in ("running", "waiting", "transfer", "idle"))
        assert all(row["transfer"] > 0 for row in acc["per_worker"])  # every batch crossed the object store
        assert watcher.titled("raylet") and watcher.titled("gcs_server"), "no local Ray was started"
        alive = watcher.survivors(timeout=15)
        assert not alive, f"still running after the run: {[watcher.titles.get(p.pid) for p in alive]}"
    finally:
        watcher.kill_all()


@pytest.mark.ray
def test_ctrl_c_leaves_no_ray_process() -> None:
    proc = subprocess.Popen(
        [str(BIN / "orchbench"), "run", "ray", "--test-case", "large", "--scenario", "original"],
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    watcher = Watcher(psutil.Process(proc.pid))
    try:
        deadline = time.monotonic() + READY_S
        while not watcher.titled(ACTOR_BUSY):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never got busy"
            watcher.look()
            time.sleep(0.1)
        assert watcher.titled("raylet")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        alive = watcher.survivors(timeout=15)
        assert not alive, f"survived Ctrl-C: {[watcher.titles.get(p.pid) for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.kill_all()


@pytest.mark.ray
def test_budget_holds_exactly_n_items_in_flight(ray_cluster: str, tmp_path: Path) -> None:
    from tests.test_tune import run_at_budget

    result = run_at_budget("ray", tmp_path, 4, address=ray_cluster)  # 2 actors × 2 on the cluster's 2 CPUs
    assert result.ok
    assert result.in_flight == 4
    assert result.workload_stats["max_in_flight"] == 4


@pytest.mark.ray
def test_the_in_flight_an_actor_declares_reaches_the_server(ray_cluster: str) -> None:
    from tests.test_sizing_contract import DECLARED, QUIET_SERVER, assert_the_declaration_sized_the_pool

    # One actor running DECLARED items at once: were the declaration lost on the way to the actor, the
    # scoring client's pool there would hold it to fewer.
    result = run_spec(
        "ray",
        workload="scoring",
        case="1k",
        scenario="none",
        strategy_options={"address": ray_cluster, "actors": 1, "concurrency": DECLARED},
        workload_options=QUIET_SERVER,
    )
    assert_matches_reference(result)
    assert_the_declaration_sized_the_pool(result)
