"""Every scoring client — sync, the built-in async one, aiohttp — on the same cases: one request builder, one set of
answer rules, and a timeout that bounds the whole request. Raw socket servers on loopback play the hostile service."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from orchbench.errors import AttemptTimeout
from orchbench.runtime import deadline
from orchbench.workloads.scoring.client import (
    AsyncClient,
    MalformedResponse,
    PermanentHTTPError,
    Protocol,
    RequestTimeout,
    SyncClient,
    TransientHTTPError,
)
from orchbench.workloads.scoring.server import get_json
from tests.helpers import cli, score_with_async_client
from tests.hostile import Request, raw_server, reply, trickle

CLIENTS = ["sync", "async", "aiohttp"]
OK = reply(200, b'{"score": 7}')


def score(kind: str, url: str, line: str = "a line", **options) -> int:
    """Score one line with a fresh client of ``kind``, closed afterwards."""
    if kind == "sync":
        client = SyncClient(url, **options)
        try:
            return client.score(line)
        finally:
            client.close()
    return score_with_async_client(url, line, use_aiohttp=kind == "aiohttp", **options)


def answer_with(data: bytes):
    def respond(conn: socket.socket, request: Request) -> None:
        conn.sendall(data)

    return respond


# --- one request builder -----------------------------------------------------------------------------------


@pytest.mark.adversarial("answers that fail or pass wrongly")
@pytest.mark.parametrize("kind", CLIENTS)
def test_every_client_keeps_the_urls_query_string(kind):
    def respond(conn: socket.socket, request: Request) -> None:  # a service that wants its key in the query
        conn.sendall(OK if request.target.endswith("?key=k1&v=2") else reply(403, b"{}"))

    seen: list[Request] = []
    with raw_server(respond, seen=seen) as url:
        assert score(kind, url + "/api?key=k1&v=2", protocol=Protocol(path="v1/score")) == 7
        assert score(kind, url + "/?key=k1&v=2") == 7
    assert [r.target for r in seen] == ["/api/v1/score?key=k1&v=2", "/?key=k1&v=2"]


@pytest.mark.adversarial("answers that fail or pass wrongly")
@pytest.mark.parametrize("kind", CLIENTS)
def test_every_client_sends_a_header_value_beyond_latin_1_as_utf_8(kind):
    seen: list[Request] = []
    with raw_server(answer_with(OK), seen=seen) as url:
        assert score(kind, url, protocol=Protocol(headers=(("X-User", "Zoë ✓ 東京"),))) == 7
    assert seen[0].header("x-user") == "Zoë ✓ 東京".encode()


@pytest.mark.parametrize("kind", CLIENTS)
def test_every_client_sends_the_same_request(kind):
    seen: list[Request] = []
    protocol = Protocol(body="text", headers=(("content-type", "application/x-mine"), ("X-Id", "7")))
    with raw_server(answer_with(OK), seen=seen) as url:
        assert score(kind, url + "/p?q=1", "ünï", protocol=protocol) == 7
    request = seen[0]
    assert request.line == b"POST /p?q=1 HTTP/1.1"
    assert json.loads(request.body) == {"text": "ünï"}
    assert request.header("content-type") == b"application/x-mine"  # the given header replaced the default
    assert request.head.lower().count(b"content-type:") == 1 and request.head.lower().count(b"host:") == 1
    assert request.header("x-id") == b"7" and request.header("content-length") == str(len(request.body)).encode()


# --- the timeout bounds the whole request ------------------------------------------------------------------


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize("kind", CLIENTS)
def test_an_answer_trickled_a_byte_at_a_time_is_cut_at_the_clients_timeout(kind):
    # 40 bytes at 0.1 s each: every read gets a byte well within any per-read timeout, the whole takes 4 s
    with raw_server(lambda conn, request: trickle(conn, OK, 0.1)) as url:
        with pytest.raises(RequestTimeout):
            score(kind, url, timeout=0.5)


@pytest.mark.adversarial("waits with no end")
def test_a_trickled_answer_is_cut_at_the_attempts_deadline_in_the_sync_client():
    with raw_server(lambda conn, request: trickle(conn, OK, 0.1)) as url:
        with deadline.attempt_deadline(0.5), pytest.raises(AttemptTimeout):
            score("sync", url)


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize("path", ["/stats", "/health"])
def test_a_trickled_stats_answer_is_cut_at_its_timeout(path):
    body = b'{"requests": 1}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with raw_server(lambda conn, request: trickle(conn, answer, 0.1)) as url:
        with pytest.raises(OSError, match="no whole answer within 0.5 s"):
            get_json(url, path, timeout=0.5)


# --- answers that are not what was asked -------------------------------------------------------------------


@pytest.mark.adversarial("floods")
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_flood_of_interim_answers_is_one_malformed_answer(kind):
    flood = b"HTTP/1.1 100 Continue\r\n\r\n" * 5000 + OK
    with raw_server(answer_with(flood)) as url:
        with pytest.raises(MalformedResponse, match="more than 16 interim"):
            score(kind, url)


def test_a_few_interim_answers_before_the_real_one_are_skipped():
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    with raw_server(answer_with(interim + OK)) as url:
        assert [score(kind, url) for kind in ("sync", "async")] == [7, 7]


@pytest.mark.adversarial("floods")
def test_aiohttp_meets_an_interim_flood_without_a_traceback():
    flood = b"HTTP/1.1 100 Continue\r\n\r\n" * 5000 + OK
    with raw_server(answer_with(flood)) as url:
        try:
            outcome: object = score("aiohttp", url)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcome = exc
    assert outcome == 7 or isinstance(outcome, MalformedResponse | TransientHTTPError | PermanentHTTPError)


@pytest.mark.adversarial("answers that fail or pass wrongly")
@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_a_deeply_nested_answer_is_a_malformed_answer_not_a_recursion_error(kind, opening):
    nested = opening * 100_000 + b"1" + (b"]" if opening == b"[" else b"}") * 100_000
    with raw_server(answer_with(reply(200, nested))) as url:
        with pytest.raises(MalformedResponse, match="nested more than 32 levels"):
            score(kind, url)


@pytest.mark.adversarial("answers that fail or pass wrongly")
def test_a_deeply_nested_stats_answer_is_a_value_error():
    with raw_server(answer_with(reply(200, b"[" * 100_000 + b"]" * 100_000))) as url:
        with pytest.raises(ValueError, match="nested"):
            get_json(url, "/stats")


def test_brackets_inside_strings_are_not_nesting():
    body = json.dumps({"score": 3, "note": "[[[[" * 100}).encode()
    with raw_server(answer_with(reply(200, body))) as url:
        assert score("sync", url) == 3


# --- the async pool's timeout covers the wait for a connection too -----------------------------------------


def test_the_async_clients_timeout_covers_the_wait_for_a_free_connection():
    import asyncio

    release = threading.Event()

    def respond(conn: socket.socket, request: Request) -> None:
        release.wait(10)  # the first request holds the only connection
        conn.sendall(OK)

    async def go(url: str) -> list[object]:
        client = AsyncClient(url, connections=1, timeout=0.5)
        try:
            return await asyncio.gather(client.score("one"), client.score("two"), return_exceptions=True)
        finally:
            release.set()
            await client.close()

    with raw_server(respond) as url:
        outcomes = asyncio.run(go(url))
    assert all(isinstance(o, RequestTimeout) for o in outcomes), outcomes


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize(
    ("strategy", "bound"),
    [
        pytest.param("sequential", "http_timeout=0.5", marks=pytest.mark.slow),  # ~12 s each: -m slow
        ("threads", "http_timeout=0.5"),
        pytest.param("threads", "retry.timeout=0.5", marks=pytest.mark.slow),
        pytest.param("asyncio", "http_timeout=0.5", marks=pytest.mark.slow),
    ],
)
def test_a_run_against_a_service_that_trickles_every_answer_is_cut_at_its_timeouts(tmp_path, strategy, bound):
    lines = tmp_path / "lines.txt"
    lines.write_text("one\ntwo\n")
    with raw_server(lambda conn, request: trickle(conn, OK, 0.1)) as url:
        proc = cli(
            "run", strategy, "-w", "scoring", "--url", url, "--input", str(lines), "--json",
            "--set", bound, "--set", "retry.max_attempts=2", timeout=120,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["failed"] == 2 and result["attempts"] == 4  # every attempt cut; none ran to the trickle's end
    assert all("timed out" in f["error"] or "no whole answer" in f["error"] for f in result["failures"])
