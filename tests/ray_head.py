"""A Ray head on loopback for a test session or the long fault matrix (``ray start --head``, 2 CPUs)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

READY_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _token_set() -> bool:
    """A token this process's Ray reads already (see ``tests/conftest.py``): the head takes it too."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH", "")
    return os.environ.get("RAY_AUTH_MODE", "").lower() == "token" and bool(path) and Path(path).is_file()


@contextlib.contextmanager
def ray_head() -> Iterator[str]:
    """Yield the address of a fresh Ray head; stop it by killing its own processes (``ray stop`` would stop
    every Ray of the machine).

    It takes the token this process's environment names (the test session's), or gets one of its own, set in
    this process's environment while it runs, so the drivers started from here (in this process and in the
    CLI's) present it, whatever token the user may have.
    """
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="obray-")  # short: Ray's socket paths live under it
    log = Path(temp, "ray-start.log")
    saved = {key: os.environ.get(key) for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")}
    if not _token_set():
        token = Path(temp, "auth_token")
        token.write_text(secrets.token_hex(32))
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    cmd = [
        str(Path(sys.executable).parent / "ray"),
        "start",
        "--head",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--num-cpus",
        "2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--temp-dir",
        temp,
        "--dashboard-agent-listen-port",
        str(_free_port()),
        "--block",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ORCHBENCH_PLUGINS")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**env, "RAY_USAGE_STATS_ENABLED": "0"},
            start_new_session=True,
        )
    root = psutil.Process(proc.pid)
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + READY_S
        while "Ray runtime started" not in log.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"ray start failed:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ray start not ready in {READY_S:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        seen.update((p.pid, p) for p in _tree(root))
        yield f"127.0.0.1:{port}"
    finally:
        seen.update((p.pid, p) for p in _tree(root))
        proc.terminate()  # `ray start --block` stops the node's processes on SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        from orchbench.harness.isolate import kill_tree

        kill_tree([p for p in seen.values() if p.is_running()])
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp, ignore_errors=True)
