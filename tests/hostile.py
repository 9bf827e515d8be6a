"""Hostile servers on loopback for the tests: answers too long, escape sequences, a banner of another protocol,
a server that accepts and never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, bytes, bool]  # status, body, whether to state Content-Length (else: body until close)


def answer(body: bytes | str, status: int = 200, *, length: bool = True) -> Answer:
    return status, body.encode() if isinstance(body, str) else body, length


HEALTHY = answer(b'{"status": "ok"}')
SCORE = answer(b'{"score": 7}')


def honest_score(body: bytes) -> Answer:
    """The score orchbench's own server would answer for a request body (JSON ``{"line": …}`` or the raw line)."""
    import json

    from orchbench.workloads.scoring.scores import score_line

    text = body.decode("utf-8", errors="replace")
    try:
        line = json.loads(text)["line"]
    except (ValueError, TypeError, KeyError):
        line = text
    return answer(json.dumps({"score": score_line(line)}))


@contextmanager
def http_server(
    *, post: Answer | Callable[[bytes], Answer] = SCORE, health: Answer = HEALTHY, stats: Answer | None = None
) -> Iterator[str]:
    """An HTTP server answering every POST with ``post`` (or ``post(body)``), ``GET …/stats`` with ``stats`` and
    any other GET with ``health``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, reply: Answer) -> None:
            status, body, length = reply
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if length:
                self.send_header("Content-Length", str(len(body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the client stopped reading, as it should for a body too long
                self.close_connection = True

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send(post(body) if callable(post) else post)

        def do_GET(self) -> None:  # noqa: N802
            self._send(stats if stats is not None and self.path.rstrip("/").endswith("/stats") else health)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # the default backlog (5) refuses connections a concurrent strategy opens at once
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _accepted(listener: socket.socket, stop: threading.Event) -> Iterator[socket.socket]:
    """The connections a listener (with a timeout) accepts, until ``stop`` is set or the listener is closed."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield conn


@contextmanager
def tcp_server(on_accept: Callable[[socket.socket], None] = lambda conn: None) -> Iterator[int]:
    """A TCP server that accepts every connection, calls ``on_accept`` and then holds it open without reading
    or answering; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        for conn in _accepted(listener, stop):
            on_accept(conn)
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


class Request:
    """One request as a raw server read it: its request line, headers (raw bytes) and body."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head, self.body = head, body
        self.line = head.split(b"\r\n", 1)[0]
        self.target = self.line.split(b" ")[1].decode("latin-1")

    def header(self, name: str) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip()
        return None


@contextmanager
def raw_server(
    respond: Callable[[socket.socket, Request], None], *, seen: list[Request] | None = None
) -> Iterator[str]:
    """A socket server on loopback that reads each request itself (head and Content-Length body) and lets
    ``respond(conn, request)`` write whatever bytes it likes, at whatever pace (it must stop once the client has
    gone: a send then fails). One connection per thread; each request is appended to ``seen``. Yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve(conn: socket.socket) -> None:
        conn.settimeout(10)
        buffer = b""
        try:
            while not stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                request = Request(head, b"")
                length = int(request.header("content-length") or 0)
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                request.body, buffer = buffer[:length], buffer[length:]
                if seen is not None:
                    seen.append(request)
                respond(conn, request)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        for conn in _accepted(listener, stop):
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for thread in threads:
            thread.join(timeout=10)


def reply(status: int, body: bytes, *headers: str) -> bytes:
    """A whole HTTP/1.1 answer with a Content-Length."""
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status} X\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def trickle(conn: socket.socket, data: bytes, every: float, stop_after: float = 30.0) -> None:
    """Send ``data`` one byte every ``every`` seconds, and stop at the first failed send (the client gave up) or
    after ``stop_after`` seconds in all."""
    import time

    end = time.monotonic() + stop_after
    for byte in data:
        if time.monotonic() > end:
            return
        conn.sendall(bytes([byte]))
        time.sleep(every)
