"""HTTP/1.1 on the wire, without I/O: the one request builder of every scoring client (sync and async) and the
parser of their answers, so both clients send the same bytes and read answers by the same rules.

- ``Target``: where a URL sends a request: host, port, TLS, the ``Host`` header and the request target (the path
  *and* the query string).
- ``RequestHead``: a request up to its body, built once per client; ``build(body)`` gives the whole request.
  Header values are sent as UTF-8 (RFC 9110 asks for ASCII; UTF-8 is what HTTP clients send for anything else).
- ``ResponseParser``: fed the bytes of one answer as they arrive, returns the whole ``Response`` (the body by
  ``Content-Length``, chunked, or up to the connection's end); raises ``ValueError`` for an answer that is not
  HTTP/1.x or breaks a limit (head size, body size, the number of interim ``1xx`` answers before the real one).
- ``check_header`` and ``check_url``: what may go on the wire at all (token names, no control bytes, no spaces),
  for the options to be refused before any request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# Connections a client keeps open to the service unless told otherwise (the pool of every strategy's client).
DEFAULT_CONNECTIONS = 256

MAX_HEAD = 64 * 1024  # status line and headers of an answer
MAX_BODY = 1024 * 1024  # body of an answer
MAX_INTERIM = 16  # interim (1xx) answers before the real one; a service sending more is out of step
_CRLF2 = b"\r\n\r\n"
# RFC 9110 §5.6.2: a field name is a token
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# what a field value may not hold: control characters other than a tab (CR and LF above all), and DEL
_VALUE_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
SET_BY_CLIENT = ("host", "content-length", "transfer-encoding", "connection")


def check_header(name: str, value: str, option: str = "") -> None:
    """Raise ValueError (one line, starting with ``option``) for a header that cannot be sent as given."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"{option}{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)")
    if name.lower() in SET_BY_CLIENT:
        raise ValueError(f"{option}{name} is set by orchbench itself; it cannot be given")
    if _VALUE_CONTROL.search(value):
        raise ValueError(f"{option}the value of {name} holds a control character (a line break, a NUL, …)")


def check_url(url: str, option: str) -> None:
    """Raise ValueError (one line naming ``option``) for a URL or path with a space or a control character: it
    would break the request line (percent-encode it: ``%20``)."""
    bad = _URL_FORBIDDEN.search(url)
    if bad:
        what = "a space" if bad.group() == " " else "a control character"
        raise ValueError(f"{option} {url!r} holds {what}; percent-encode it (%20 for a space)")


@dataclass(frozen=True)
class Target:
    """Where requests to a URL go."""

    host: str
    port: int
    tls: bool
    host_header: str
    path: str  # the request target: path and query string, as given

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        host = parts.hostname or "127.0.0.1"
        default_port = 443 if tls else 80
        port = parts.port or default_port
        host_header = (f"[{host}]" if ":" in host else host) + ("" if port == default_port else f":{port}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(host, port, tls, host_header, path)


class RequestHead:
    """A request up to its body, built once: ``build(body)`` is the whole request (``body`` None: no body and
    no ``Content-Length``, as for a GET)."""

    __slots__ = ("_prefix", "_bodyless")

    def __init__(self, method: str, target: Target, headers: Sequence[tuple[str, str]] = ()) -> None:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
        start = f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n{lines}"
        self._bodyless = (start + "\r\n").encode("utf-8")
        self._prefix = (start + "Content-Length: ").encode("utf-8")

    def build(self, body: bytes | None) -> bytes:
        if body is None:
            return self._bodyless
        return self._prefix + b"%d\r\n\r\n" % len(body) + body


class Response:
    """A whole answer: status, headers (names lower-cased; the last of repeated ones) and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class ResponseParser:
    """The answer to one request, fed as it arrives. ``feed`` returns the Response once whole (else None);
    ``end`` is called when the connection ends first. ``reusable`` says, once whole, whether the connection may
    carry another request."""

    __slots__ = ("max_body", "reusable", "_buffer", "_head", "_length", "_chunked", "_body", "_interim")

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self.reusable = False
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._length: int | None = None  # body bytes expected; None: chunked or up to the end
        self._chunked = False
        self._body = bytearray()
        self._interim = 0

    @property
    def started(self) -> bool:
        """Whether any byte of the answer arrived."""
        return bool(self._buffer) or self._head is not None or self._interim > 0

    def feed(self, data: bytes) -> Response | None:
        self._buffer += data
        if self._head is None and not self._parse_head():
            return None
        return self._parse_body()

    def end(self) -> Response:
        """The connection ended: the answer if it was delimited by the end, else ConnectionError."""
        if self._head is not None and self._length is None and not self._chunked:
            self.reusable = False
            return self._response()
        raise ConnectionError("the connection closed before a whole answer arrived")

    def _parse_head(self) -> bool:
        while True:  # interim answers (100 Continue, 103 Early Hints) precede the real one: a loop, never recursion
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
            if 100 <= status < 200:
                if status == 101:
                    raise ValueError("the answer switches protocols (101), which was not asked for")
                self._interim += 1
                if self._interim > MAX_INTERIM:
                    raise ValueError(f"the answer began with more than {MAX_INTERIM} interim (1xx) answers")
                continue
            break
        headers: dict[str, str] = {}
        lengths = set()
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                key = name.strip().lower()
                headers[key] = value.strip()
                if key == "content-length":
                    lengths.add(value.strip())
        if len(lengths) > 1:
            raise ValueError("the answer states two different Content-Lengths")
        keep = headers.get("connection", "").lower()
        self.reusable = ("close" not in keep) if version == "HTTP/1.1" else ("keep-alive" in keep)
        self._head = (status, headers)
        if status in (204, 304):
            self._length = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            text = headers["content-length"]
            if not text.isdigit():
                raise ValueError("the answer's Content-Length is not a number")
            self._length = int(text)
        else:
            self.reusable = False  # delimited by the connection's end
        if self._length is not None and self._length > self.max_body:
            raise ValueError(f"the answer's body exceeds {self.max_body:,} bytes")
        return True

    def _parse_body(self) -> Response | None:
        if self._chunked:
            return self._parse_chunks()
        if self._length is None:
            self._body += self._buffer
            self._buffer.clear()
            if len(self._body) > self.max_body:
                raise ValueError(f"the answer's body exceeds {self.max_body:,} bytes")
            return None
        if len(self._buffer) >= self._length:
            self._body += self._buffer[: self._length]
            if len(self._buffer) > self._length:
                self.reusable = False  # more than was announced: out of step
            return self._response()
        return None

    def _parse_chunks(self) -> Response | None:
        while True:
            end = self._buffer.find(b"\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise ValueError("the answer's chunked body is malformed")
                return None
            try:
                size = int(bytes(self._buffer[:end]).split(b";", 1)[0], 16)
            except ValueError:
                raise ValueError("the answer's chunked body is malformed") from None
            if size < 0:
                raise ValueError("the answer's chunked body is malformed")
            if size == 0:  # the last chunk, then trailers up to an empty line
                trailer_end = self._buffer.find(_CRLF2, end) if self._buffer[end : end + 4] != _CRLF2 else end
                if trailer_end < 0:
                    if len(self._buffer) > MAX_HEAD:
                        raise ValueError("the answer's trailers are too large")
                    return None
                return self._response()
            if size > self.max_body - len(self._body):
                raise ValueError(f"the answer's body exceeds {self.max_body:,} bytes")
            if len(self._buffer) < end + 2 + size + 2:
                return None
            self._body += self._buffer[end + 2 : end + 2 + size]
            del self._buffer[: end + 2 + size + 2]

    def _response(self) -> Response:
        assert self._head is not None
        return Response(self._head[0], self._head[1], bytes(self._body))
