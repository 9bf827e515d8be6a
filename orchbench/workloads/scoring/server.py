"""The scoring HTTP server of the original scoring service, with configurable latency, capacity and
deterministic faults.

Endpoints:

- ``POST`` to any path but ``/score`` and ``/reset`` (``/`` above all) with the raw UTF-8 line as the body, whatever
  its ``Content-Type``, answers ``{"score": N}`` (see ``scores.score_line``): the original service's protocol.
- ``POST /score`` with the JSON body ``{"line": "..."}`` answers the same (the JSON form, kept for compatibility).
- ``GET /health`` answers ``{"status": "ok"}``; ``GET /stats`` answers the counters described in ``Stats``;
  ``POST /reset`` forgets every line seen and zeroes the counters (for a long-running ``orchbench serve``).

Behaviour, all set by a ``ServerConfig``:

- **Latency**: each admitted request waits a lognormal time (``latency_median`` seconds, shape
  ``latency_sigma``, cut at ``MAX_Z`` standard deviations); a share ``slow_rate`` waits ``slow_latency`` seconds
  instead.
- **Capacity**: at most ``capacity`` admitted requests are in flight (0: unlimited). Above it the request is
  answered at once with 429 and a ``Retry-After`` header. The header holds *decimal seconds*: a whole number when
  the wait is whole (``Retry-After: 2``, as in RFC 9110) and otherwise up to three decimals (``Retry-After: 0.05``).
  503 answers carry the same header.
- **Faults** of an admitted request, decided by ``decide``: 503 at once (no latency, holds no slot), or after
  the latency a 500, a dropped connection (the transport is closed without an answer), or a 200 with a malformed
  body (invalid JSON, or JSON without ``score``), or no answer at all (a *hang*: the request is held open until
  the client gives up; ``hang_rate`` 1 makes a server that accepts every request and never answers).
  The decision is a pure function of (seed, the line's UTF-8
  bytes, how many requests for that line the server admitted before), so every client meets the same faults
  whatever its order or concurrency. Requests refused for capacity (429) are not counted as seen: the fault
  sequence of a line does not depend on how often it was refused.
- **Death**: with ``die_after`` N > 0, the server kills itself (SIGKILL, as a crash would) when the N-th
  score request arrives, dropping every request in flight; it stays dead.
- **Limits**: bodies above ``max_body`` bytes get 413, at most ``max_connections`` connections are kept (further
  ones are closed at once), error bodies never echo the request (not even aiohttp's own answers to unparsable
  requests), and the default bind address is 127.0.0.1.

Run it with ``python -m orchbench.workloads.scoring.server --port 0 --scenario default`` (it prints
``listening URL`` on one line once bound), or ``orchbench serve``, or from Python with ``ServerProcess``.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import hashlib
import http.client
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orchbench.workloads.scoring.scores import score_line

if TYPE_CHECKING:
    from aiohttp import web

DEFAULT_HOST = "127.0.0.1"
PARENT_POLL_S = 0.25
_STD_NORMAL = NormalDist()
MAX_Z = 4.0  # the lognormal latency is cut at 4 standard deviations (about 1 draw in 30,000 is cut)


@dataclass(frozen=True)
class ServerConfig:
    """Everything that shapes the server's answers. Times in seconds, rates as shares of admitted requests."""

    seed: int = 0
    latency_median: float = 0.0
    latency_sigma: float = 0.0
    slow_rate: float = 0.0
    slow_latency: float = 0.0
    capacity: int = 0
    retry_after: float = 0.0
    rate_503: float = 0.0
    rate_500: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    hang_rate: float = 0.0
    die_after: int = 0
    max_body: int = 64 * 1024
    max_connections: int = 4096

    def validate(self) -> ServerConfig:
        """Return self, or raise ValueError naming the first bad value."""
        for name in ("latency_median", "latency_sigma", "slow_latency", "retry_after"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        for name in ("slow_rate", "rate_503", "rate_500", "drop_rate", "malformed_rate", "hang_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        if self.fault_rate > 1.0:
            raise ValueError(f"the fault rates add up to {self.fault_rate:g}, more than 1")
        if self.die_after < 0:
            raise ValueError(f"die_after must be >= 0 (0: never), not {self.die_after}")
        if self.capacity < 0:
            raise ValueError(f"capacity must be >= 0 (0: unlimited), not {self.capacity}")
        if self.max_body < 1024:
            raise ValueError(f"max_body must be at least 1024 bytes, not {self.max_body}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")
        return self

    def with_overrides(self, **changes: Any) -> ServerConfig:
        """A copy with the given fields changed; None values are ignored, unknown names raise ValueError."""
        known = {f.name: field_type(f.name) for f in fields(self)}
        given = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown server setting {unknown[0]!r}")
        typed = {k: known[k](v) for k, v in given.items()}
        return replace(self, **typed)

    def scaled(self, factor: float) -> ServerConfig:
        """Every latency and the Retry-After wait multiplied by ``factor``."""
        return replace(
            self,
            latency_median=self.latency_median * factor,
            slow_latency=self.slow_latency * factor,
            retry_after=self.retry_after * factor,
        )

    @property
    def fault_rate(self) -> float:
        return self.rate_503 + self.rate_500 + self.drop_rate + self.malformed_rate + self.hang_rate

    def mean_latency(self) -> float:
        """Expected wait of an admitted request that is not answered 503."""
        lognormal_mean = self.latency_median * math.exp(self.latency_sigma**2 / 2)
        return (1 - self.slow_rate) * lognormal_mean + self.slow_rate * self.slow_latency


def field_type(name: str) -> type:
    """int or float: the type of a ServerConfig field."""
    return type(getattr(ServerConfig, name))


SCENARIOS: dict[str, ServerConfig] = {
    # The original server: ~4.15 s per request on average, and it sustained 2,048 concurrent requests.
    "seed": ServerConfig(
        latency_median=3.52,
        latency_sigma=0.5,
        slow_rate=0.01,
        slow_latency=20.0,
        capacity=2048,
        retry_after=1.0,
        rate_503=0.02,
        rate_500=0.01,
        drop_rate=0.005,
        malformed_rate=0.005,
    ),
    # Fast enough that a good client scores the 20,507-line case in a few seconds.
    "default": ServerConfig(
        latency_median=0.05,
        latency_sigma=0.5,
        slow_rate=0.005,
        slow_latency=1.0,
        capacity=256,
        retry_after=0.05,
        rate_503=0.02,
        rate_500=0.01,
        drop_rate=0.005,
        malformed_rate=0.005,
    ),
    "none": ServerConfig(),
}


class Kind(str, enum.Enum):
    OK = "ok"
    UNAVAILABLE = "503"
    ERROR = "500"
    DROP = "drop"
    MALFORMED = "malformed"
    HANG = "hang"


@dataclass(frozen=True)
class Decision:
    """What the server does with one admitted request: how long it waits, then how it answers."""

    kind: Kind
    latency: float
    slow: bool = False
    variant: int = 0


def _unit(digest: bytes, i: int) -> float:
    """The i-th uniform number in (0, 1) taken from a digest, 8 bytes each."""
    return (int.from_bytes(digest[8 * i : 8 * i + 8], "big") + 0.5) / 2**64


def decide(config: ServerConfig, line: bytes, attempt: int) -> Decision:
    """The fate of the ``attempt``-th admitted request (0-based) for ``line``: a pure function of its arguments."""
    digest = hashlib.blake2b(
        b"%d\0%d\0" % (config.seed, attempt) + line, digest_size=32, person=b"orchbench-fault"
    ).digest()
    u_fault, u_slow, u_latency, u_variant = (_unit(digest, i) for i in range(4))
    slow = u_slow < config.slow_rate
    if slow:
        latency = config.slow_latency
    elif config.latency_sigma > 0:
        z = min(max(_STD_NORMAL.inv_cdf(u_latency), -MAX_Z), MAX_Z)
        latency = config.latency_median * math.exp(config.latency_sigma * z)
    else:
        latency = config.latency_median
    kind = Kind.OK
    edge = 0.0
    for candidate, rate in (
        (Kind.UNAVAILABLE, config.rate_503),
        (Kind.ERROR, config.rate_500),
        (Kind.DROP, config.drop_rate),
        (Kind.MALFORMED, config.malformed_rate),
        (Kind.HANG, config.hang_rate),
    ):
        edge += rate
        if u_fault < edge:
            kind = candidate
            break
    return Decision(kind, 0.0 if kind is Kind.UNAVAILABLE else latency, slow, int(u_variant * 2))


def format_retry_after(seconds: float) -> tuple[str, float]:
    """The ``Retry-After`` header value for a wait, rounded *up* to milliseconds, and the wait it states."""
    ms = max(0, math.ceil(round(seconds * 1000, 6)))
    text = str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0")
    return text, ms / 1000


@dataclass
class Stats:
    """The server's counters, as ``GET /stats`` answers them.

    ``requests`` counts every request except /health, /stats and /reset; ``served`` the 200 answers with a valid
    score; ``refused`` the 429s; ``dropped`` the connections closed without answer; ``malformed`` the 200s with a
    broken body; ``hung`` the requests never answered; ``early_retries`` the requests for a line that arrived
    before the time a previous 429 or 503 for that line asked the client to wait (0 for a client that honours
    ``Retry-After``). ``/stats`` adds ``unique_lines`` and ``cpu_s``, the CPU seconds the server process has used
    since it started.
    """

    requests: int = 0
    served: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    refused: int = 0
    dropped: int = 0
    malformed: int = 0
    hung: int = 0
    slow: int = 0
    early_retries: int = 0
    connections_refused: int = 0
    by_status: Counter[int] = field(default_factory=Counter)


_BAD_BODY = 'the body must be a JSON object {"line": string}'
_BAD_RAW_BODY = "the body must be the line, in UTF-8"
_DROPPED = "orchbench_dropped"
_UNCOUNTED = {"/health", "/stats", "/reset"}


class ServerState:
    """What the server remembers, and its request handlers (aiohttp is imported only when a server is built)."""

    def __init__(self, config: ServerConfig) -> None:
        from aiohttp import web

        self.web = web
        self.config = config.validate()
        self.stats = Stats()
        self.seen: dict[bytes, int] = {}  # admitted requests per line (key: a hash of the line)
        self.not_before: dict[bytes, float] = {}  # per line: when the last Retry-After asked to come back
        self.score_requests = 0  # every score request received, for die_after (not reset by /reset)

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self.stats)
        data["by_status"] = {str(k): v for k, v in sorted(self.stats.by_status.items())}
        data["unique_lines"] = len(self.seen)
        data["cpu_s"] = time.process_time()  # the server's own CPU time: on a shared machine, the client's rival
        data["config"] = asdict(self.config)
        return data

    def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
        return self.web.json_response(data, status=status, headers=headers)

    def _ask_to_wait(self, key: bytes, now: float, status: int, message: str) -> web.Response:
        text, seconds = format_retry_after(self.config.retry_after)
        self.not_before[key] = max(self.not_before.get(key, 0.0), now + seconds)
        return self._json(status, {"error": message}, {"Retry-After": text})

    async def score(self, request: web.Request) -> web.StreamResponse:
        config = self.config
        self.score_requests += 1
        if config.die_after and self.score_requests >= config.die_after:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash, not a shutdown: nothing in flight is answered
        body = await request.read()  # raises 413 above client_max_size
        line, encoded = self._line(request.path, body)
        key = hashlib.blake2b(encoded, digest_size=16).digest()
        now = time.monotonic()  # not loop.time(): uvloop's is cached per loop iteration, in whole milliseconds
        if now < self.not_before.get(key, -math.inf):
            self.stats.early_retries += 1
        if config.capacity and self.stats.in_flight >= config.capacity:
            self.stats.refused += 1
            return self._ask_to_wait(key, now, 429, "over capacity")
        attempt = self.seen.get(key, 0)
        self.seen[key] = attempt + 1
        decision = decide(config, encoded, attempt)
        if decision.kind is Kind.UNAVAILABLE:
            return self._ask_to_wait(key, now, 503, "unavailable")
        self.stats.slow += decision.slow
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            if decision.latency > 0:
                await asyncio.sleep(decision.latency)
        finally:
            self.stats.in_flight -= 1  # self.stats, not a local: /reset may have replaced it meanwhile
        if decision.kind is Kind.HANG:
            self.stats.hung += 1
            await asyncio.Event().wait()  # until the client gives up and the server stops (it cancels handlers)
        if decision.kind is Kind.DROP:
            self.stats.dropped += 1
            request[_DROPPED] = True
            if request.transport is not None:
                request.transport.close()
            return self.web.Response()  # never written: the transport is closed
        if decision.kind is Kind.ERROR:
            return self._json(500, {"error": "internal error"})
        if decision.kind is Kind.MALFORMED:
            self.stats.malformed += 1
            broken = b'{"score": ' if decision.variant == 0 else b'{"result": 1}'
            return self.web.Response(body=broken, content_type="application/json")
        self.stats.served += 1
        return self._json(200, {"score": score_line(line)})

    def _line(self, path: str, body: bytes) -> tuple[str, bytes]:
        """The line a request asks to score: the JSON form on ``/score``, the raw body anywhere else."""
        if path == "/score":
            try:
                line = json.loads(body)["line"]
                if not isinstance(line, str):
                    raise TypeError
                return line, line.encode("utf-8")
            except (ValueError, TypeError, KeyError, UnicodeError):
                raise self.web.HTTPBadRequest(text=_BAD_BODY) from None
        try:
            return body.decode("utf-8"), body
        except UnicodeError:
            raise self.web.HTTPBadRequest(text=_BAD_RAW_BODY) from None

    async def health(self, request: web.Request) -> web.Response:
        return self._json(200, {"status": "ok"})

    async def stats_view(self, request: web.Request) -> web.Response:
        return self._json(200, self.snapshot())

    async def reset(self, request: web.Request) -> web.Response:
        self.stats, self.seen, self.not_before = Stats(in_flight=self.stats.in_flight), {}, {}
        return self._json(200, {"status": "reset"})

    async def count(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        """Middleware: count every request but the service endpoints, by the status it was answered."""
        if request.path in _UNCOUNTED:
            return await handler(request)
        self.stats.requests += 1
        try:
            response = await handler(request)
        except self.web.HTTPException as exc:
            self.stats.by_status[exc.status] += 1
            raise
        if not request.get(_DROPPED):
            self.stats.by_status[response.status] += 1
        return response


def build_app(config: ServerConfig) -> tuple[web.Application, ServerState]:
    state = ServerState(config)

    @state.web.middleware
    async def count(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        return await state.count(request, handler)

    app = state.web.Application(client_max_size=config.max_body, middlewares=[count])
    app.router.add_post("/score", state.score)
    app.router.add_get("/health", state.health)
    app.router.add_get("/stats", state.stats_view)
    app.router.add_post("/reset", state.reset)
    app.router.add_post("/{path:.*}", state.score)  # the original protocol: the raw line, to the service's URL
    return app, state


def _quiet_handler_class() -> type:
    """aiohttp's request handler, but its answers to unparsable requests (and to a handler's crash) state the
    status only: aiohttp's own error bodies quote the offending request bytes."""
    from http import HTTPStatus

    from aiohttp import web, web_protocol

    class QuietRequestHandler(web_protocol.RequestHandler):
        __slots__ = ()

        def handle_error(
            self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
        ) -> web.StreamResponse:
            self.logger.debug("error handling a request", exc_info=exc)
            if request.writer.output_size > 0:
                raise ConnectionError("response already sent, cannot send an error response")
            try:
                text = f"{status} {HTTPStatus(status).phrase}"
            except ValueError:
                text = str(status)
            response = web.Response(status=status, text=text)
            response.force_close()
            return response

    return QuietRequestHandler


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


def _raise_fd_limit(wanted: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class ScoringServer:
    """The server inside the running event loop: ``url = await server.start()``, then ``await server.stop()``."""

    def __init__(self, config: ServerConfig, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.app, self.state = build_app(config)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> str:
        config = self.state.config
        _raise_fd_limit(config.max_connections + 64)
        self._runner = self.state.web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        web_server = self._runner.server
        assert web_server is not None
        handler_class = _quiet_handler_class()
        loop = asyncio.get_running_loop()
        handler_options = getattr(web_server, "_kwargs", {})  # what web_server() would pass its own handlers

        def protocol() -> asyncio.Protocol:
            if len(web_server.connections) >= config.max_connections:
                self.state.stats.connections_refused += 1
                return _Refuse()
            return handler_class(web_server, loop=loop, **handler_options)

        self._server = await loop.create_server(protocol, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(
    config: ServerConfig,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    on_ready: Callable[[str], None] | None = None,
    parent_pid: int | None = None,
) -> None:
    """Run until SIGINT or SIGTERM, or until the process ``parent_pid`` is no longer this process's parent."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signal support
            pass
    server = ScoringServer(config, host, port)
    url = await server.start()
    watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid is not None else None
    try:
        if on_ready is not None:
            on_ready(url)
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent_pid:
        await asyncio.sleep(PARENT_POLL_S)
    stop.set()


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
            sys.executable,
            "-m",
            "orchbench.workloads.scoring.server",
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
    """This environment, plus the directory holding this orchbench on PYTHONPATH unless it is site-packages
    (a source checkout run without installing must import the same code in the child)."""
    env = dict(os.environ)
    root = Path(__file__).resolve().parents[3]
    if root.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


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
    """GET ``url + path`` and decode its JSON body (for /health and /stats); raises OSError or ValueError."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    connection = http.client.HTTPSConnection if https else http.client.HTTPConnection
    conn = connection(parts.hostname or DEFAULT_HOST, parts.port or (443 if https else 80), timeout=timeout)
    try:
        conn.request("GET", parts.path.rstrip("/") + path)
        response = conn.getresponse()
        from orchbench.workloads.scoring.client import MAX_ANSWER_BYTES

        body = response.read(MAX_ANSWER_BYTES + 1)  # an answer too long is refused, never read whole
        if len(body) > MAX_ANSWER_BYTES:
            raise ValueError(f"GET {path} answered more than {MAX_ANSWER_BYTES:,} bytes")
        if response.status != 200:
            raise OSError(f"GET {path} answered HTTP {response.status}")
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError(f"GET {path} did not answer a JSON object")
        return data
    finally:
        conn.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchbench.workloads.scoring.server", description="The orchbench line-scoring server."
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--scenario", default="default", choices=sorted(SCENARIOS))
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is no longer the parent")
    for f in fields(ServerConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, type=field_type(f.name))
    return parser


def main(argv: list[str] | None = None) -> int:
    from orchbench.harness.loop import run_loop

    args = _parser().parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in fields(ServerConfig)}
    try:
        config = SCENARIOS[args.scenario].with_overrides(**overrides).validate()
    except ValueError as exc:
        print(f"scoring server: {exc}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"listening {url}", flush=True)

    try:
        run_loop(serve(config, args.host, args.port, on_ready=ready, parent_pid=args.parent_pid))  # uvloop if installed
    except OSError as exc:
        print(f"scoring server: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
