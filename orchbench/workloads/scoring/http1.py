"""A small keep-alive HTTP/1.1 client on asyncio's protocols: the scoring client's lean request path.

One request at a time per connection, connections kept open and reused, the request written in one piece,
the answer parsed as it arrives (``Content-Length``, chunked, or up to the connection's end). It does what a
scoring request needs and no more: no redirects, cookies, proxies, compression or retries; an answer or a clear
error. ``https`` URLs work through asyncio's TLS transport.

Errors: ``ConnectionError`` when the connection fails or closes before a whole answer arrived,
``TimeoutError`` when no whole answer arrived within the timeout, ``ValueError`` for an answer that is not
HTTP/1.x or exceeds the size limits.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from typing import Any

MAX_HEAD = 64 * 1024  # status line and headers of an answer
MAX_BODY = 1024 * 1024  # body of an answer
_CRLF2 = b"\r\n\r\n"


class Response:
    """A whole answer: status, headers (names lower-cased; the last of repeated ones) and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its answer into the waiting future."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._head: tuple[int, dict[str, str]] | None = None
        self._length: int | None = None  # body bytes expected; None: chunked or up to the end
        self._chunked = False
        self._body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._head is not None and self._length is None and not self._chunked:
                self._finish()  # an answer delimited by the connection's end
            else:
                self._fail(ConnectionError("the connection closed before a whole answer arrived"))

    def send(self, data: bytes, waiter: asyncio.Future[Response]) -> None:
        self._waiter, self._head, self._length, self._chunked = waiter, None, None, False
        self._buffer.clear()
        self._body.clear()
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
        self._buffer += data
        try:
            if self._head is None and not self._parse_head():
                return
            self._parse_body()
        except ValueError as exc:
            self._fail(exc)
            self.close()

    def _parse_head(self) -> bool:
        end = self._buffer.find(_CRLF2)
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise ValueError("the answer's headers are too large")
            return False
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise ValueError("the answer is not HTTP/1.x")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            return self._parse_head() if self._buffer else False
        keep = headers.get("connection", "").lower()
        self.reusable = ("close" not in keep) if version == "HTTP/1.1" else ("keep-alive" in keep)
        self._head = (status, headers)
        if status in (204, 304):
            self._length = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise ValueError("the answer's Content-Length is not a number") from None
            if self._length < 0:
                raise ValueError("the answer's Content-Length is negative")
        else:
            self.reusable = False  # delimited by the connection's end
        if self._length is not None and self._length > self.max_body:
            raise ValueError(f"the answer's body exceeds {self.max_body:,} bytes")
        return True

    def _parse_body(self) -> None:
        if self._chunked:
            self._parse_chunks()
        elif self._length is None:
            self._body += self._buffer
            self._buffer.clear()
            if len(self._body) > self.max_body:
                raise ValueError(f"the answer's body exceeds {self.max_body:,} bytes")
        elif len(self._buffer) >= self._length:
            self._body += self._buffer[: self._length]
            if len(self._buffer) > self._length:
                self.reusable = False  # more than was announced: out of step
            self._finish()

    def _parse_chunks(self) -> None:
        while True:
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            try:
                size = int(bytes(self._buffer[:end]).split(b";", 1)[0], 16)
            except ValueError:
                raise ValueError("the answer's chunked body is malformed") from None
            if size == 0:  # the last chunk, then trailers up to an empty line
                trailer_end = self._buffer.find(_CRLF2, end) if self._buffer[end : end + 4] != _CRLF2 else end
                if trailer_end < 0:
                    return
                self._finish()
                return
            if len(self._buffer) < end + 2 + size + 2:
                return
            self._body += self._buffer[end + 2 : end + 2 + size]
            del self._buffer[: end + 2 + size + 2]
            if len(self._body) > self.max_body:
                raise ValueError(f"the answer's body exceeds {self.max_body:,} bytes")

    def _finish(self) -> None:
        assert self._head is not None and self._waiter is not None
        waiter, self._waiter = self._waiter, None
        if not waiter.done():
            waiter.set_result(Response(self._head[0], self._head[1], bytes(self._body)))

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        self.reusable = False
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Http1Pool:
    """Keep-alive connections to one ``host:port`` (TLS with ``tls``), at most ``limit`` open (0: no cap).

    Made and used inside one event loop. ``request`` sends one request and returns its whole :class:`Response`.
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
        default_port = 443 if tls else 80
        self.host_header = (f"[{host}]" if ":" in host else host) + ("" if port == default_port else f":{port}")

    async def request(self, data: bytes) -> Response:
        """Send ``data`` (a whole HTTP/1.1 request) on a free connection; the answer, or an error (see module)."""
        conn = await self._connection()
        waiter = self._loop.create_future()
        timer = self._loop.call_later(self.timeout, _expire, waiter, self.timeout)
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

    async def _connection(self) -> _Connection:
        while True:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
                self._open -= 1
            if not self.limit or self._open < self.limit:
                self._open += 1
                try:
                    async with asyncio.timeout(self.connect_timeout):
                        _, conn = await self._loop.create_connection(
                            lambda: _Connection(self.max_body), self.host, self.port, ssl=self._ssl
                        )
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                return conn
            gate = self._loop.create_future()
            self._waiting.append(gate)
            try:
                await gate
            finally:
                if gate in self._waiting:
                    self._waiting.remove(gate)

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
