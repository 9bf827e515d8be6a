"""A keep-alive HTTP/1.1 connection pool on blocking sockets: the scoring client's sync request path, safe to share
between threads.

It sends the bytes ``wire.RequestHead`` builds and parses answers with ``wire.ResponseParser``, as the async
client does. Every request has a *deadline* (on ``time.monotonic()``) that bounds all of it, connect to the
answer's last byte: the socket's timeout is set to the time left before every send and every read, so a service
that answers a byte at a time cannot stretch a request past it (a plain socket timeout bounds each read only).

Errors: ``ConnectFailed`` when no connection could be made, ``ConnectionError`` when the connection closes before a
whole answer arrived, ``TimeoutError`` at the deadline, ``ValueError`` for an answer that breaks ``wire``'s rules.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

from orchbench.workloads.scoring.http1 import ConnectFailed
from orchbench.workloads.scoring.wire import MAX_BODY, Response, ResponseParser, Target

READ_SIZE = 64 * 1024


class BlockingPool:
    """Connections to one target, up to ``size`` of them kept open between requests (more callers at once still
    work: their extra connections are closed after use). ``size`` 0 keeps none."""

    def __init__(
        self, target: Target, *, size: int = 1, connect_timeout: float = 10.0, max_body: int | None = None
    ) -> None:
        self.target = target
        self.size = size
        self.connect_timeout = connect_timeout
        self.max_body = MAX_BODY if max_body is None else max_body
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()
        self._tls = ssl.create_default_context() if target.tls else None
        self.closed = False

    def request(self, data: bytes, deadline: float) -> Response:
        """Send ``data`` (a whole HTTP/1.1 request) and return the whole answer, all of it before ``deadline``."""
        sock = self._idle_socket() or self._connect(deadline)
        parser = ResponseParser(self.max_body)
        response: Response | None = None
        try:
            _until(sock, deadline)
            sock.sendall(data)
            while response is None:
                _until(sock, deadline)
                chunk = sock.recv(READ_SIZE)
                response = parser.feed(chunk) if chunk else parser.end()
        except BaseException:
            sock.close()
            raise
        if parser.reusable:
            self._put_back(sock)
        else:
            sock.close()
        return response

    def _idle_socket(self) -> socket.socket | None:
        with self._lock:
            while self._idle:
                sock = self._idle.pop()
                if _still_open(sock):
                    return sock
                sock.close()
        return None

    def _connect(self, deadline: float) -> socket.socket:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed before a connection was made")
        wait = min(left, self.connect_timeout)
        try:
            sock = socket.create_connection((self.target.host, self.target.port), timeout=wait)
        except TimeoutError:
            raise ConnectFailed(f"no connection within {wait:g} s") from None
        except OSError as exc:
            raise ConnectFailed(exc.strerror or str(exc) or exc.__class__.__name__) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is None:
            return sock
        try:
            _until(sock, deadline)
            return self._tls.wrap_socket(sock, server_hostname=self.target.host)
        except BaseException:
            sock.close()
            raise

    def _put_back(self, sock: socket.socket) -> None:
        with self._lock:
            if not self.closed and len(self._idle) < self.size:
                self._idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


def _until(sock: socket.socket, deadline: float) -> None:
    """Give the socket's next operation only the time left; TimeoutError when none is."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    sock.settimeout(left)


def _still_open(sock: socket.socket) -> bool:
    """An idle keep-alive connection is usable when nothing arrived on it: readable means the server closed it
    (or sent bytes nobody asked for)."""
    if not hasattr(select, "poll"):  # not POSIX
        return not select.select([sock], [], [], 0)[0]
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)
