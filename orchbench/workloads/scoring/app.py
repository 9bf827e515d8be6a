"""The scoring server's aiohttp application: its counters, request handlers and hardening, and ``ScoringServer`` /
``serve`` to run it inside an event loop. aiohttp is imported only when a server is built."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import math
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from orchbench.workloads.scoring.model import DEFAULT_HOST, Kind, ServerConfig, decide, format_retry_after
from orchbench.workloads.scoring.scores import score_line

if TYPE_CHECKING:
    from aiohttp import web

PARENT_POLL_S = 0.25


@dataclass
class Stats:
    """The server's counters, as ``GET /stats`` answers them.

    ``requests`` counts every request except /health, /stats and /reset; ``served`` the 200 answers with a valid
    score; ``refused`` the 429s; ``dropped`` the connections closed without answer; ``malformed`` the 200s with a
    broken body; ``hung`` the requests never answered; ``early_retries`` the requests for a line that arrived
    before the time a previous 429 or 503 for that line asked the client to wait (0 for a client that honours
    ``Retry-After``); ``max_connections_open`` the most connections open at once, which does not depend on how
    fast the server reads requests, as ``max_in_flight`` does. ``/stats`` adds ``unique_lines`` and ``cpu_s``,
    the CPU seconds the server process has used since it started.
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
    max_connections_open: int = 0
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
        self.connections_open = 0

    def connection_opened(self) -> None:
        self.connections_open += 1
        self.stats.max_connections_open = max(self.stats.max_connections_open, self.connections_open)

    def connection_closed(self) -> None:
        self.connections_open -= 1

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
        self.stats = Stats(in_flight=self.stats.in_flight, max_connections_open=self.connections_open)
        self.seen, self.not_before = {}, {}
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


def _quiet_handler_class(state: ServerState) -> type:
    """aiohttp's request handler, but its answers to unparsable requests (and to a handler's crash) state the
    status only: aiohttp's own error bodies quote the offending request bytes. It tells ``state`` of each
    connection it opens and closes."""
    from http import HTTPStatus

    from aiohttp import web, web_protocol

    class QuietRequestHandler(web_protocol.RequestHandler):
        __slots__ = ()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            state.connection_opened()

        def connection_lost(self, exc: BaseException | None) -> None:
            state.connection_closed()
            super().connection_lost(exc)

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


FD_RESERVE = 32  # descriptors kept free of connections: the listening socket, the loop's own, logs, imports


def _raise_fd_limit(wanted: int) -> int | None:
    """Raise this process's descriptor limit towards ``wanted`` (within the hard limit); the limit now, or None
    when it is unlimited or unknown."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return None if soft == resource.RLIM_INFINITY else soft


class TroubleLines:
    """A server's event-loop exception handler: one line per *kind* of trouble the first time it happens, and
    each kind's count at the end (:meth:`summary`) — never a traceback per occurrence. (Out of descriptors, the
    loop reports a failed ``accept()`` once for every connection waiting: thousands of tracebacks a second.)"""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.counts: Counter[str] = Counter()

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # a callback's repr holds addresses and arguments, different every time: the kind names the function only
        kind = _CALLBACK.sub(r"\1", str(context.get("message") or "unexpected error"))
        exc = context.get("exception")
        if exc is not None:
            kind += f" ({_describe(exc)})"
        self.counts[kind] += 1
        if self.counts[kind] == 1:
            self.write(f"scoring server: {kind}; further ones are counted")

    def summary(self) -> list[str]:
        return [f"scoring server: {kind}: {count:,} times" for kind, count in self.counts.items() if count > 1]


_CALLBACK = re.compile(r"(callback [\w.<>]+)\(.*", re.S)


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and isinstance(code, int) and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ScoringServer:
    """The server inside the running event loop: ``url = await server.start()``, then ``await server.stop()``."""

    def __init__(self, config: ServerConfig, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.app, self.state = build_app(config)
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> str:
        config = self.state.config
        fd_limit = _raise_fd_limit(config.max_connections + FD_RESERVE)
        max_connections, backlog = config.max_connections, 1024
        if fd_limit is not None and fd_limit < config.max_connections + FD_RESERVE:
            # Short of descriptors (ulimit -n): the loop accepts up to `backlog` connections at a time before any
            # is refused, so half the room goes to connections kept and half to those accepted at once; beyond
            # that they wait in the kernel's queue, and accept() never runs out of descriptors.
            room = max(2, fd_limit - FD_RESERVE)
            max_connections = backlog = max(1, room // 2)
        self.max_connections = max_connections
        self._runner = self.state.web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        web_server = self._runner.server
        assert web_server is not None
        handler_class = _quiet_handler_class(self.state)
        loop = asyncio.get_running_loop()
        handler_options = getattr(web_server, "_kwargs", {})  # what web_server() would pass its own handlers

        def protocol() -> asyncio.Protocol:
            if len(web_server.connections) >= max_connections:
                self.state.stats.connections_refused += 1
                return _Refuse()
            return handler_class(web_server, loop=loop, **handler_options)

        self._server = await loop.create_server(protocol, self.host, self.port, backlog=backlog)
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
    """Run until SIGINT, SIGTERM or SIGHUP (unless a hang-up was ignored when it started, as under ``nohup``), or
    until the process ``parent_pid`` is no longer this process's parent. Trouble of the event loop (a failed
    ``accept()``, …) is one line per kind on stderr, counted (see ``TroubleLines``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    trouble = TroubleLines()
    loop.set_exception_handler(trouble)
    signals = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signals.append(signal.SIGHUP)
    for sig in signals:
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signal support
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
        for line in trouble.summary():
            trouble.write(line)


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent_pid:
        await asyncio.sleep(PARENT_POLL_S)
    stop.set()
