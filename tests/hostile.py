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


@contextmanager
def tcp_server(on_accept: Callable[[socket.socket], None] = lambda conn: None) -> Iterator[int]:
    """A TCP server that accepts every connection, calls ``on_accept`` and then holds it open without reading
    or answering; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
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
