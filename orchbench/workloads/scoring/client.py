"""Clients of the scoring server: a pooled, thread-safe sync client (``blocking``) and an async one (the lean
keep-alive HTTP/1.1 client of ``http1``, or aiohttp).

Both send one ``POST`` per call, as a ``Protocol`` says (by default the original service's: the raw line as the
body, to the service's URL), and never retry by themselves; the harness's retry policy does. The sync client and
the built-in async one send the very same bytes (``wire.RequestHead``: the URL's path *and* query string, header
values in UTF-8) and read answers by the same rules (``wire.ResponseParser``). Their timeout bounds the whole
request, from connect to the answer's last byte. They turn every outcome into a score or an exception:

- 200 with ``{"score": <int>}`` (or the protocol's score field) → the score;
- 429, 408 and 5xx → ``TransientHTTPError`` (with ``retry_after`` from ``Retry-After``);
- a dropped or refused connection → ``ConnectionDropped``; a timeout → ``RequestTimeout``;
  a 200 whose body is not ``{"score": <int>}`` → ``MalformedResponse`` — all ``TransientError``s;
- any other status → ``PermanentHTTPError``, which is not retried.

An answer that is not the protocol's is malformed, whatever is wrong with it: invalid JSON, JSON nested deeper
than ``MAX_JSON_DEPTH``, a missing field, a score that is not an integer, a body over ``MAX_ANSWER_BYTES``. It is
transient, as a truncated answer is: the service answered, just not as asked, and the retry policy bounds how
often it is asked again.

``Retry-After`` is read as decimal seconds (``2``, ``0.05``) or an HTTP date, and passed on as asked: the retry
policy decides how long it honours (``retry.cap``), never the client.

Clients are made once per process (sync) or once per event loop (async) and reused: see ``sync_client`` and
``async_client``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orchbench import AttemptTimeout, TransientError, attempt_time_left  # the harness cuts sync attempts cooperatively
from orchbench.workloads.scoring.http1 import ConnectFailed
from orchbench.workloads.scoring.wire import DEFAULT_CONNECTIONS, RequestHead, Target, check_header, check_url
from orchbench.workloads.scoring.wire import MAX_BODY as MAX_ANSWER_BYTES  # every client reads no more of an answer

MAX_JSON_DEPTH = 32  # a score answer is one object deep; deeper answers are refused before parsing
DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")


@dataclass(frozen=True)
class Protocol:
    """How a scoring service is asked: where to POST, the body's form, which field of the answer is the score.

    ``path`` is appended to the service's URL (which may have a path and a query string of its own); ``body`` is
    ``"raw"`` (the line's UTF-8 bytes) or the name of the JSON field that holds the line; ``headers`` are sent
    with every request (replacing a default header of the same name).
    """

    path: str = ""
    body: str = "raw"
    score_field: str = "score"
    headers: tuple[tuple[str, str], ...] = ()

    def check(self, url: str) -> None:
        """Raise ValueError (one line naming the option) for a protocol that cannot make a valid request."""
        check_url(url, "--url")
        check_url(self.path, "path")
        if not self.score_field.strip():
            raise ValueError("score_field must name a field of the answer")
        if self.body != "raw" and not self.body.strip():
            raise ValueError("body must be raw or the name of a JSON field")
        seen: set[str] = set()
        for name, value in self.headers:
            check_header(name, value, "headers: ")
            if name.lower() in seen:
                raise ValueError(f"headers: {name} is given twice")
            seen.add(name.lower())

    def encode(self, line: str) -> bytes:
        if self.body == "raw":
            return line.encode("utf-8")
        return json.dumps({self.body: line}).encode("utf-8")

    def request_headers(self) -> list[tuple[str, str]]:
        """The headers of every request: the defaults, each replaced by a given header of the same name."""
        content_type = "text/plain; charset=utf-8" if self.body == "raw" else "application/json"
        given = {name.lower() for name, _ in self.headers}
        defaults = [("Content-Type", content_type), ("Accept", "application/json")]
        return [(n, v) for n, v in defaults if n.lower() not in given] + list(self.headers)

    def target(self, url: str) -> str:
        """The URL every request is POSTed to: the service's URL, ``path`` appended, the query strings kept."""
        if not self.path:
            parts = urlsplit(url)
            return url if parts.path else urlunsplit(parts._replace(path="/"))
        base, extra = urlsplit(url), urlsplit(self.path)
        path = base.path.rstrip("/") + "/" + extra.path.lstrip("/")
        query = "&".join(q for q in (base.query, extra.query) if q)
        return urlunsplit(base._replace(path=path, query=query, fragment=""))


DEFAULT_PROTOCOL = Protocol()


def parse_headers(spec: str | None, environ: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """``"Name=$VAR;Other=text"`` → header pairs, each ``$VAR`` (or ``${VAR}``) anywhere in a value read from the
    environment here (never stored): ``Authorization=Bearer $API_TOKEN`` works. ``$$`` is a literal ``$``.

    A secret header (Authorization, Proxy-Authorization, Cookie) must take its secret from a variable, so that its
    value is never on a command line or in a saved result. Raises ValueError with one line on a bad spec.
    """
    environ = os.environ if environ is None else environ
    pairs = []
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not name:
            raise ValueError(f"headers: {name or part!r} is not NAME=VALUE or NAME=$VARIABLE")
        check_header(name, "", "headers: ")  # a bad name is named before its value is looked at
        expanded, variables = expand_variables(value, environ, name)
        if name.lower() in SECRET_HEADERS and not variables:
            raise ValueError(
                f"headers: give {name} from an environment variable ({name}=$VARIABLE or "
                f"{name}='Bearer $VARIABLE'), not on the command line"
            )
        check_header(name, expanded, "headers: ")
        pairs.append((name, expanded))
    return tuple(pairs)


_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_variables(value: str, environ: Mapping[str, str], header: str) -> tuple[str, list[str]]:
    """``value`` with every ``$VAR`` and ``${VAR}`` replaced from ``environ``, and the variables used. A variable
    that is not set, or a ``$`` that starts none, raises ValueError naming the header."""
    used: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        var = match.group(1) or match.group(2)
        if var not in environ:
            raise ValueError(f"headers: the environment variable {var} (for {header}) is not set")
        used.append(var)
        return environ[var]

    stray = _VARIABLE.sub("", value)
    if "$" in stray:
        raise ValueError(f"headers: a $ in the value of {header} names no variable ($NAME or ${{NAME}}; $$ for a $)")
    return _VARIABLE.sub(substitute, value), used


class PermanentHTTPError(Exception):
    """The server refused the request for good (a 4xx other than 408 and 429): retrying cannot help."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"HTTP {status} from the scoring server")
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.status, str(self))


class TransientHTTPError(TransientError):
    """429, 408 or 5xx: worth retrying, after ``retry_after`` seconds when the server said so."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        wait = f" (Retry-After {retry_after:g} s)" if retry_after is not None else ""
        super().__init__(f"HTTP {status} from the scoring server{wait}", retry_after)
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.status, self.retry_after)


class ConnectionDropped(TransientError):
    """The connection failed or was closed before a whole answer arrived."""


class RequestTimeout(TransientError):
    """No answer within the client's timeout."""


class MalformedResponse(TransientError):
    """A 200 whose body is not the JSON object ``{"score": <int>}``, or an answer too long to be one."""


def _oversized() -> MalformedResponse:
    return MalformedResponse(f"the scoring server answered more than {MAX_ANSWER_BYTES:,} bytes")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (decimal seconds or an HTTP date), as asked (a date past is 0);
    None when absent or not a finite number of seconds."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def load_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(body)``, but an answer nested deeper than ``max_depth`` is a ValueError, found before parsing
    (the parser would recurse once per level and end in a RecursionError)."""
    if body.count(b"[") + body.count(b"{") > max_depth and _nesting(body) > max_depth:
        raise ValueError(f"JSON nested more than {max_depth} levels deep")
    return json.loads(body)


_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _nesting(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings not counted)."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(body):
        char = match.group()
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def interpret(status: int, retry_after: str | None, body: bytes, score_field: str = "score") -> int:
    """The score in a response, or the exception it stands for."""
    if status == 200:
        try:
            answer = load_json(body)
        except ValueError as exc:
            reason = str(exc) if "nested" in str(exc) else "not JSON"
            raise MalformedResponse(f"the scoring server answered a malformed body ({reason})") from None
        if not isinstance(answer, dict) or score_field not in answer:
            raise MalformedResponse(f"the scoring server answered a body without {score_field!r}")
        score = answer[score_field]
        if not isinstance(score, int) or isinstance(score, bool):
            raise MalformedResponse("the scoring server answered a score that is not an integer")
        return score
    if status in (408, 429) or 500 <= status <= 599:
        raise TransientHTTPError(status, parse_retry_after(retry_after))
    raise PermanentHTTPError(status)


def request_body(line: str, protocol: Protocol = DEFAULT_PROTOCOL) -> bytes:
    return protocol.encode(line)


@contextmanager
def _transport_errors(timeout: float, cut_by_deadline: bool = False) -> Iterator[None]:
    """The errors of orchbench's own pools (``blocking``, ``http1``) as the client's: a timeout (the harness's
    deadline when ``cut_by_deadline``, else the client's ``timeout``), a dropped connection, a malformed answer."""
    try:
        yield
    except TimeoutError:
        if cut_by_deadline:
            raise AttemptTimeout("attempt timed out") from None
        raise RequestTimeout(f"no whole answer from the scoring server within {timeout:g} s") from None
    except ConnectFailed as exc:
        raise ConnectionDropped(f"cannot connect to the scoring server ({exc})") from None
    except OSError as exc:
        raise ConnectionDropped(f"the connection to the scoring server failed: {exc.__class__.__name__}") from None
    except ValueError as exc:
        raise MalformedResponse(f"the scoring server answered badly: {exc}") from None


class SyncClient:
    """A keep-alive connection pool to one server, safe to share between threads.

    ``connections`` should match the number of threads that call it at once: the pool keeps that many
    connections open for reuse (more callers still work, their extra connections are closed after use).
    """

    def __init__(
        self,
        url: str,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        timeout: float = DEFAULT_TIMEOUT,
        protocol: Protocol = DEFAULT_PROTOCOL,
    ) -> None:
        from orchbench.workloads.scoring.blocking import BlockingPool

        self.url = url
        self.timeout = timeout
        self.protocol = protocol
        target = Target.of(protocol.target(url))
        self._head = RequestHead("POST", target, protocol.request_headers())
        self._pool = BlockingPool(target, size=max(1, connections), connect_timeout=min(timeout, CONNECT_TIMEOUT))

    def score(self, line: str) -> int:
        timeout, cut_by_deadline = self.timeout, False
        left = attempt_time_left()  # seconds left of the harness's per-attempt deadline, if it set one
        if left is not None and left < self.timeout:
            if left <= 0:
                raise AttemptTimeout("attempt timed out")
            timeout, cut_by_deadline = left, True
        request = self._head.build(self.protocol.encode(line))
        with _transport_errors(self.timeout, cut_by_deadline):
            response = self._pool.request(request, time.monotonic() + timeout)
        return interpret(response.status, response.headers.get("retry-after"), response.body, self.protocol.score_field)

    def close(self) -> None:
        self._pool.close()


class AsyncClient:
    """The async client of one event loop (create it inside that loop): by default orchbench's lean keep-alive
    HTTP/1.1 client (``http1``), with ``use_aiohttp`` an ``aiohttp.ClientSession``.

    ``connections`` caps the connections open at once (0: no cap); match it to the coroutines that call it.
    """

    def __init__(
        self,
        url: str,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        timeout: float = DEFAULT_TIMEOUT,
        protocol: Protocol = DEFAULT_PROTOCOL,
        use_aiohttp: bool = False,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.protocol = protocol
        self.loop = asyncio.get_running_loop()
        self._pool: Any = None
        self._session: Any = None
        if use_aiohttp:
            self._open_session(url, connections, timeout)
            return
        from orchbench.workloads.scoring.http1 import Http1Pool

        target = Target.of(protocol.target(url))
        self._pool = Http1Pool(
            target.host,
            target.port,
            tls=target.tls,
            limit=max(0, connections),
            timeout=timeout,
            connect_timeout=min(timeout, CONNECT_TIMEOUT),
        )
        self._head = RequestHead("POST", target, protocol.request_headers())

    def _open_session(self, url: str, connections: int, timeout: float) -> None:
        import aiohttp
        from yarl import URL

        self._aiohttp = aiohttp
        self._score_url = URL(self.protocol.target(url), encoded=True)  # parsed once, not on every request
        # Per request, aiohttp otherwise adds and the server parses headers nobody reads; its answers are small
        # JSON, never compressed.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(0, connections), limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers=self.protocol.request_headers(),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    @property
    def closed(self) -> bool:
        link = self._pool if self._pool is not None else self._session
        return link.closed or self.loop.is_closed()

    async def score(self, line: str) -> int:
        if self._pool is None:
            return await self._score_aiohttp(line)
        with _transport_errors(self.timeout):  # the harness's cancellation is a CancelledError, not a TimeoutError
            response = await self._pool.request(self._head.build(self.protocol.encode(line)))
        return interpret(response.status, response.headers.get("retry-after"), response.body, self.protocol.score_field)

    async def _score_aiohttp(self, line: str) -> int:
        aiohttp = self._aiohttp
        try:
            async with self._session.post(
                self._score_url, data=self.protocol.encode(line), allow_redirects=False
            ) as resp:
                length = resp.content_length
                body = await (resp.read() if length is not None and length <= MAX_ANSWER_BYTES else _read_capped(resp))
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except TimeoutError:  # aiohttp's own timeouts; the harness's cancellation is a CancelledError
            raise RequestTimeout(f"no whole answer from the scoring server within {self.timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionDropped(f"the connection to the scoring server failed: {exc.__class__.__name__}") from None
        return interpret(status, retry_after, body, self.protocol.score_field)

    async def close(self) -> None:
        await (self._pool if self._pool is not None else self._session).close()


async def _read_capped(resp: Any) -> bytes:
    """The body of an answer too long or of no stated length, read no further than the cap."""
    body = b""
    while len(body) <= MAX_ANSWER_BYTES and (more := await resp.content.read(MAX_ANSWER_BYTES + 1 - len(body))):
        body += more
    if len(body) > MAX_ANSWER_BYTES:
        resp.close()  # the rest is never read; the connection is not reused
        raise _oversized()
    return body


_sync_clients: dict[tuple[Any, ...], SyncClient] = {}
_sync_lock = threading.Lock()


def sync_client(
    url: str,
    connections: int = DEFAULT_CONNECTIONS,
    timeout: float = DEFAULT_TIMEOUT,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> SyncClient:
    """This process's client for ``url`` (made on first use; a forked child makes its own)."""
    key = (os.getpid(), url, connections, timeout, protocol)
    client = _sync_clients.get(key)
    if client is None:
        with _sync_lock:
            client = _sync_clients.get(key)
            if client is None:
                pid = os.getpid()
                for stale in [k for k in _sync_clients if k[0] != pid]:  # inherited through fork: not ours
                    del _sync_clients[stale]
                client = _sync_clients[key] = SyncClient(
                    url, connections=connections, timeout=timeout, protocol=protocol
                )
    return client


class _LoopClients:
    """The async clients of one event loop, closed when the loop shuts down its async generators.

    ``asyncio.run`` (and ``asyncio.Runner``) call ``loop.shutdown_asyncgens()`` before closing the loop; a
    suspended generator kept here is closed then, and its ``finally`` closes the sessions while the loop runs.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clients: dict[tuple[Any, ...], AsyncClient] = {}
        self.keeper = self._keep()

    async def _keep(self) -> Any:
        try:
            yield
        finally:
            _loop_clients.pop(id(self.loop), None)
            for client in list(self.clients.values()):
                await client.close()
            self.clients.clear()


_loop_clients: dict[int, _LoopClients] = {}


async def async_client(
    url: str,
    connections: int = DEFAULT_CONNECTIONS,
    timeout: float = DEFAULT_TIMEOUT,
    protocol: Protocol = DEFAULT_PROTOCOL,
    use_aiohttp: bool = False,
) -> AsyncClient:
    """The running event loop's client for ``url`` (one per loop, closed when ``asyncio.run`` ends)."""
    loop = asyncio.get_running_loop()
    entry = _loop_clients.get(id(loop))
    if entry is None or entry.loop is not loop:
        entry = _loop_clients[id(loop)] = _LoopClients(loop)
        await entry.keeper.__anext__()
    key = (url, connections, timeout, protocol, use_aiohttp)
    client = entry.clients.get(key)
    if client is None or client.closed:
        client = entry.clients[key] = AsyncClient(
            url, connections=connections, timeout=timeout, protocol=protocol, use_aiohttp=use_aiohttp
        )
    return client
