"""The lean HTTP/1.1 client (scoring's async request path) against a real socket server that answers as scripted."""

from __future__ import annotations

import asyncio

import pytest

from orchbench.workloads.scoring.client import AsyncClient, ConnectionDropped, MalformedResponse, RequestTimeout
from orchbench.workloads.scoring.server import ServerProcess

OK = b'{"score": 7}'


async def _score_against(answers: list[bytes], lines: int = 1, **client_options) -> tuple[list[object], dict]:
    """Serve each connection the scripted ``answers`` in turn (one per request; ``b""`` closes the connection
    without answering); score ``lines`` lines one after another; the outcomes and what the server saw."""
    seen = {"connections": 0, "requests": 0, "heads": []}
    script = iter(answers)
    handlers: list[asyncio.Task] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        handlers.append(asyncio.current_task())
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                seen["requests"] += 1
                seen["heads"].append(head)
                answer = next(script)
                if not answer:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AsyncClient(f"http://127.0.0.1:{port}", **client_options)
    outcomes: list[object] = []
    try:
        for n in range(lines):
            try:
                outcomes.append(await client.score(f"line {n}"))
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                outcomes.append(exc)
    finally:
        await client.close()
        await asyncio.gather(*handlers)  # each ends when its connection does
        server.close()
        await server.wait_closed()
    return outcomes, seen


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\n{head}".encode() + b"\r\n" + body


def test_keep_alive_connection_is_reused_and_every_body_form_is_read():
    chunked = _answer(
        b"5\r\n" + OK[:5] + b"\r\n" + b"%x\r\n" % (len(OK) - 5) + OK[5:] + b"\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked",
    )
    answers = [
        _answer(OK, f"Content-Length: {len(OK)}"),
        chunked,
        _answer(b'{"error": "busy"}', "Content-Length: 17", "Retry-After: 0.5", status="429 Too Many"),
        _answer(OK, "Connection: close"),
    ]  # delimited by the connection's end
    outcomes, seen = asyncio.run(_score_against(answers, lines=4))
    assert outcomes[:2] == [7, 7] and outcomes[3] == 7
    assert getattr(outcomes[2], "status", None) == 429 and outcomes[2].retry_after == 0.5
    assert seen["requests"] == 4 and seen["connections"] == 1  # the first three kept the connection open
    assert seen["heads"][0].startswith(b"POST / HTTP/1.1\r\nHost: 127.0.0.1:")  # to the URL itself


def test_a_connection_closed_mid_answer_is_a_dropped_connection_and_not_reused():
    answers = [b"", _answer(OK, f"Content-Length: {len(OK)}")]
    outcomes, seen = asyncio.run(_score_against(answers, lines=2))
    assert isinstance(outcomes[0], ConnectionDropped) and outcomes[1] == 7
    assert seen["connections"] == 2


@pytest.mark.parametrize(
    "answer",
    [
        _answer(b"x" * 2048, "Content-Length: 2048"),
        b"SSH-2.0-not http\r\n\r\n",
        _answer(b"zz\r\n", "Transfer-Encoding: chunked"),
        _answer(b"800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n", "Transfer-Encoding: chunked"),
    ],
)
def test_bad_or_oversized_answers_are_malformed(monkeypatch, answer):
    from orchbench.workloads.scoring import http1

    monkeypatch.setattr(http1, "MAX_BODY", 1024)
    outcomes, _ = asyncio.run(_score_against([answer], lines=1))
    assert isinstance(outcomes[0], MalformedResponse), outcomes


def test_no_answer_within_the_clients_timeout_is_a_request_timeout():
    silent = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{"  # a body that never completes
    outcomes, _ = asyncio.run(_score_against([silent], lines=1, timeout=0.2))
    assert isinstance(outcomes[0], RequestTimeout)


@pytest.mark.parametrize("use_aiohttp", [False, True])
def test_both_async_clients_score_the_same_against_the_scoring_server(use_aiohttp):
    from orchbench.workloads.scoring.scores import score_line

    lines = [f"the {n}th line, with ünïcode" for n in range(20)]

    async def go(url: str) -> list[int]:
        client = AsyncClient(url, use_aiohttp=use_aiohttp)
        try:
            return list(await asyncio.gather(*(client.score(line) for line in lines)))
        finally:
            await client.close()

    with ServerProcess("none") as server:
        assert asyncio.run(go(server.url)) == [score_line(line) for line in lines]
