"""A scoring service that is not orchbench's: the standard library's http.server, the original protocol (the raw line
POSTed to the service's URL, ``{"score": N}`` back, no /health, no /stats) and a score function of its own."""

from __future__ import annotations

import json
import threading
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def own_score(line: str) -> int:
    """This service's score: nothing like orchbench's (blank lines score too)."""
    return 7 * len(line) + zlib.crc32(line.encode("utf-8")) % 97


class OwnService:
    """Serves on 127.0.0.1 in a thread. The first request for a line whose score is a multiple of 5 answers 503,
    so a client must retry; ``always_fail`` lines answer 500 every time; ``token`` is the bearer token it wants."""

    def __init__(self, *, always_fail: tuple[str, ...] = (), token: str | None = None) -> None:
        self.always_fail = set(always_fail)
        self.token = token
        self.seen: Counter[str] = Counter()
        self.content_types: set[str] = set()
        self.paths: set[str] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def forget(self) -> None:
        """Forget the lines seen (their first request answers 503 again) and the paths and content types."""
        with self.lock:
            self.seen.clear()
            self.paths.clear()
            self.content_types.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, data: dict) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                line = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
                with service.lock:
                    service.paths.add(self.path)
                    service.content_types.add(self.headers.get("Content-Type", ""))
                    service.seen[line] += 1
                    first = service.seen[line] == 1
                if service.token is not None and self.headers.get("Authorization") != f"Bearer {service.token}":
                    return self._answer(401, {"error": "unauthorized"})
                if line in service.always_fail:
                    return self._answer(500, {"error": "internal"})
                if first and own_score(line) % 5 == 0:
                    return self._answer(503, {"error": "busy"})
                self._answer(200, {"score": own_score(line)})

        return Handler

    def __enter__(self) -> OwnService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
