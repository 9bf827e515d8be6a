"""A small keep-alive HTTP/1.1 client on asyncio's protocols: the scoring client's lean async request path.

One request at a time per connection, connections kept open and reused, the request written in one piece (built
by ``wire.RequestHead``, as the sync client's are), the answer parsed as it arrives by ``wire.ResponseParser``. It
does what a scoring request needs and no more: no redirects, cookies, proxies, compression or retries; an answer
or a clear error. ``https`` URLs work through asyncio's TLS transport.

The timeout bounds the whole request: waiting for a free connection, connecting, sending and the answer's last
byte (a service that trickles its answer a byte at a time is cut at it like one that never answers).

Errors: ``ConnectFailed`` (a ``ConnectionError``) when no connection could be made, ``ConnectionError`` when the
connection closes before a whole answer arrived, ``TimeoutError`` when no whole answer arrived within the
timeout, ``ValueError`` for an answer that is not HTTP/1.x or breaks the limits of ``wire``.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from typing import Any

from orchbench.workloads.scoring.wire import MAX_BODY, MAX_HEAD, Response, ResponseParser

__all__ = ["MAX_BODY", "MAX_HEAD", "ConnectFailed", "Http1Pool", "Response"]


class ConnectFailed(ConnectionError):
    """No connection could be made (refused, unreachable, no route): nothing was sent."""


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its answer (``wire.ResponseParser``) into the waiting future."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self._waiter: asyncio.Future[Response] | None = None
        self._parser = ResponseParser(max_body)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            try:
                self._finish(self._parser.end())  # an answer delimited by the connection's end
            except ConnectionError as error:
                self._fail(error)

    def send(self, data: bytes, waiter: asyncio.Future[Response]) -> None:
        self._waiter = waiter
        self._parser = ResponseParser(self.max_body)
        self.reusable = False
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        try:
            response = self._parser.feed(data)
        except ValueError as exc:
            self._fail(exc)
            self.close()
            return
        if response is not None:
            self.reusable = self._parser.reusable
            self._finish(response)

    def _finish(self, response: Response) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        self.reusable = False
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Http1Pool:
    """Keep-alive connections to one ``host:port`` (TLS with ``tls``), at most ``limit`` open (0: no cap).

    Made and used inside one event loop. ``request`` sends one request and returns its whole :class:`Response`
    within ``timeout`` seconds (a new connection within ``connect_timeout`` of them).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        limit: int = 0,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_body: int | None = None,
    ) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.max_body = MAX_BODY if max_body is None else max_body
        self._ssl = ssl_module.create_default_context() if tls else None
        self._loop = asyncio.get_running_loop()
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.closed = False

    async def request(self, data: bytes) -> Response:
        """Send ``data`` (a whole HTTP/1.1 request) on a free connection; the answer, or an error (see module)."""
        deadline = self._loop.time() + self.timeout
        conn = self._free() or await self._connection(deadline)
        waiter = self._loop.create_future()
        timer = self._loop.call_at(deadline, _expire, waiter, self.timeout)
        try:
            conn.send(data, waiter)
            response = await waiter
        except BaseException:
            conn.reusable = False  # cancelled or failed mid-answer: the connection is out of step
            raise
        finally:
            timer.cancel()
            self._put_back(conn)
        return response

    def _free(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
            self._open -= 1
        return None

    async def _connection(self, deadline: float) -> _Connection:
        """A connection: an idle one, else a new one while under the limit, else the next one freed."""
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    conn = self._free()
                    if conn is not None:
                        return conn
                    if not self.limit or self._open < self.limit:
                        return await self._connect()
                    gate = self._loop.create_future()
                    self._waiting.append(gate)
                    try:
                        await gate
                    finally:
                        if gate in self._waiting:
                            self._waiting.remove(gate)
        except TimeoutError:
            raise TimeoutError(f"no answer within {self.timeout:g} s (no connection by then)") from None

    async def _connect(self) -> _Connection:
        self._open += 1
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    _, conn = await self._loop.create_connection(
                        lambda: _Connection(self.max_body), self.host, self.port, ssl=self._ssl
                    )
            except TimeoutError:
                raise ConnectFailed(f"no connection within {self.connect_timeout:g} s") from None
            except OSError as exc:
                raise ConnectFailed(exc.strerror or str(exc) or exc.__class__.__name__) from None
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        return conn

    def _put_back(self, conn: _Connection) -> None:
        if conn.reusable and not conn.closed and not self.closed:
            self._idle.append(conn)
        else:
            conn.close()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            gate = self._waiting.popleft()
            if not gate.done():
                gate.set_result(None)
                return

    async def close(self) -> None:
        self.closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports close


def _expire(waiter: asyncio.Future[Any], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no answer within {timeout:g} s"))
