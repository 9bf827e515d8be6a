"""The scoring server in a child process (``ServerProcess``), and ``get_json`` to read its (or any service's)
/health and /stats."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
import weakref
from dataclasses import fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orchbench import python_command, python_environment
from orchbench.workloads.scoring.model import DEFAULT_HOST, SCENARIOS, ServerConfig


class ServerProcess:
    """The server in a child process, for the length of a ``with`` block (or ``start()`` … ``stop()``).

    The child prints its URL once bound; ``start`` waits for that line and for ``/health``. ``stop`` terminates
    it (then kills it if it lingers). The child also exits by itself soon after this process dies, so a crashed
    run leaves no server behind. It runs in its own session: a Ctrl-C in the terminal reaches this process, which
    stops the server on its way out.
    """

    def __init__(
        self,
        scenario: str = "default",
        *,
        seed: int = 0,
        config: ServerConfig | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        startup_timeout: float = 30.0,
        **overrides: Any,
    ) -> None:
        """Serve ``config``, or else the ``scenario`` with ``seed`` and the given ServerConfig ``overrides``."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scoring scenario {scenario!r} (known: {', '.join(sorted(SCENARIOS))})")
        if config is None:
            config = SCENARIOS[scenario].with_overrides(seed=seed, **overrides)
        self.scenario = scenario  # with an explicit config, only a label: every setting is passed explicitly
        self.config = config.validate()
        self.host, self.port = host, port
        self.startup_timeout = startup_timeout
        self.url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        cmd = [
            *python_command("-m", "orchbench.workloads.scoring.server"),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--scenario",
            self.scenario,
            "--parent-pid",
            str(os.getpid()),
        ]
        for f in fields(ServerConfig):  # every setting explicit: the child serves exactly self.config
            cmd += ["--" + f.name.replace("_", "-"), repr(getattr(self.config, f.name))]
        return cmd

    def start(self) -> str:
        if self._proc is not None:
            raise RuntimeError("the scoring server is already started")
        self._proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_child_env(),
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _end_process, self._proc, 2.0)
        try:
            self.url = self._await_url()
            self._await_health()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _await_url(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._proc.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.startup_timeout)
        except queue.Empty:
            raise RuntimeError(f"the scoring server did not start within {self.startup_timeout:g} s") from None
        if not line.startswith("listening "):
            status = self._proc.wait(timeout=self.startup_timeout)
            raise RuntimeError(f"the scoring server exited with status {status} before it was ready")
        return line.split(maxsplit=1)[1].strip()

    def _await_health(self) -> None:
        assert self._proc is not None and self.url is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                if get_json(self.url, "/health", timeout=1.0).get("status") == "ok":
                    return
            except (OSError, ValueError):
                pass
            if self._proc.poll() is not None:
                raise RuntimeError(f"the scoring server exited with status {self._proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the scoring server did not answer /health within {self.startup_timeout:g} s")
            time.sleep(0.02)

    def stats(self) -> dict[str, Any]:
        if self.url is None:
            raise RuntimeError("the scoring server is not started")
        return get_json(self.url, "/stats")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server (SIGTERM), then kill it if it has not exited within ``timeout`` seconds."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._proc is not None:
            _end_process(self._proc, timeout)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _child_env() -> dict[str, str]:
    """This environment, with this process's sys.path and never the working directory (a source checkout run
    without installing imports the same code in the child; see :func:`orchbench.python_environment`)."""
    return python_environment()


def _end_process(proc: subprocess.Popen[str], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def get_json(url: str, path: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET ``path`` under ``url`` (its query string kept) and decode its JSON object (for /health and /stats).

    ``timeout`` bounds the whole request, to the answer's last byte; the answer is read no further than the
    clients' cap and parsed no deeper than theirs. Raises OSError (no answer, or not a 200) or ValueError (an
    answer that is not a JSON object)."""
    from orchbench.workloads.scoring.blocking import BlockingPool
    from orchbench.workloads.scoring.client import load_json
    from orchbench.workloads.scoring.wire import RequestHead, Target

    parts = urlsplit(url)
    target = Target.of(urlunsplit(parts._replace(path=parts.path.rstrip("/") + path, fragment="")))
    pool = BlockingPool(target, size=0, connect_timeout=timeout)
    try:
        response = pool.request(
            RequestHead("GET", target, [("Accept", "application/json")]).build(None), time.monotonic() + timeout
        )
    except TimeoutError:
        raise OSError(f"GET {path} gave no whole answer within {timeout:g} s") from None
    except ValueError as exc:
        raise ValueError(f"GET {path} answered badly: {exc}") from None
    finally:
        pool.close()
    if response.status != 200:
        raise OSError(f"GET {path} answered HTTP {response.status}")
    data = load_json(response.body)
    if not isinstance(data, dict):
        raise ValueError(f"GET {path} did not answer a JSON object")
    return data
