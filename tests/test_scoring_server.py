"""The scoring server and its clients, against real servers on loopback (no mocks, no timing thresholds)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from orchbench.errors import TransientError
from orchbench.workloads.scoring.client import (
    AsyncClient,
    ConnectionDropped,
    MalformedResponse,
    PermanentHTTPError,
    Protocol,
    SyncClient,
    TransientHTTPError,
    async_client,
    interpret,
    parse_retry_after,
)
from orchbench.workloads.scoring.scores import score_line
from orchbench.workloads.scoring.server import (
    SCENARIOS,
    Kind,
    ServerConfig,
    ServerProcess,
    decide,
    format_retry_after,
    get_json,
)
from tests.helpers import score_with_async_client

ROOT = Path(__file__).resolve().parents[1]
GONE_WITHIN_S = 60.0  # how long to wait for a process to go; waiting is not what the tests measure


def post(url: str, body: bytes, path: str = "/score") -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def lines_meeting(
    config: ServerConfig, kind: Kind, n: int = 1, variant: int | None = None, slow: bool | None = None, tag: str = ""
) -> list[str]:
    """Fresh lines whose first admitted request meets ``kind`` under ``config`` (found through the pure ``decide``).

    Each call's lines are new to the server (the server counts requests per line), unless ``tag`` repeats.
    """
    tag = tag or str(time.monotonic_ns())
    found = []
    for i in range(100_000):
        line = f"probe {tag} {kind.value} {i}"
        d = decide(config, line.encode(), 0)
        if d.kind is kind and variant in (None, d.variant) and slow in (None, d.slow):
            found.append(line)
            if len(found) == n:
                return found
    raise AssertionError(f"no line meets {kind}")


def wait_for(predicate, what: str, within: float = GONE_WITHIN_S) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


FAULTS = SCENARIOS["none"].with_overrides(
    seed=7, rate_503=0.2, rate_500=0.2, drop_rate=0.2, malformed_rate=0.2, retry_after=0.25
)


@pytest.fixture(scope="module")
def plain():
    with ServerProcess("none") as server:
        yield server


@pytest.fixture(scope="module")
def faulty():
    with ServerProcess(config=FAULTS) as server:
        yield server


# -- pure parts ------------------------------------------------------------------------------------------------


def test_decisions_are_a_pure_function_of_seed_line_and_attempt():
    config = SCENARIOS["default"]
    runs = [[decide(config, f"line {i}".encode(), k) for i in range(200) for k in range(3)] for _ in range(2)]
    assert runs[0] == runs[1]
    other_seed = config.with_overrides(seed=1)
    assert runs[0] != [decide(other_seed, f"line {i}".encode(), k) for i in range(200) for k in range(3)]
    kinds = {d.kind for d in runs[0]}
    assert Kind.OK in kinds and len(kinds) > 1


def test_retry_after_is_decimal_seconds_rounded_up():
    assert format_retry_after(2) == ("2", 2.0)
    assert format_retry_after(0.05) == ("0.05", 0.05)
    assert format_retry_after(0.0501) == ("0.051", 0.051)
    assert format_retry_after(0) == ("0", 0.0)
    assert parse_retry_after("0.05") == 0.05
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 10) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("1e9") == 1e9  # as asked: the retry policy decides what it honours (retry.cap)
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None


def test_seed_scenario_matches_the_seed():
    assert SCENARIOS["original"].mean_latency() == pytest.approx(4.15, abs=0.05)
    assert SCENARIOS["none"].mean_latency() == 0 and SCENARIOS["none"].fault_rate == 0
    assert SCENARIOS["none"].capacity == 0


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        ServerConfig(rate_500=1.5).validate()
    with pytest.raises(ValueError, match="more than 1"):
        ServerConfig(rate_500=0.6, rate_503=0.6).validate()
    with pytest.raises(ValueError, match="unknown server setting"):
        ServerConfig().with_overrides(speed=3)


def test_response_mapping():
    assert interpret(200, None, b'{"score": 12}') == 12
    for status in (429, 408, 500, 502, 503, 504):
        with pytest.raises(TransientHTTPError) as info:
            interpret(status, "1.5", b"")
        assert isinstance(info.value, TransientError) and info.value.retry_after == 1.5
    for status in (400, 401, 403, 404, 405, 413, 422):
        with pytest.raises(PermanentHTTPError) as info:
            interpret(status, None, b"")
        assert not isinstance(info.value, TransientError) and info.value.status == status
    for body in (b"{", b'{"result": 1}', b'{"score": "7"}', b'{"score": true}', b"[]"):
        with pytest.raises(MalformedResponse):
            interpret(200, None, body)


def test_errors_survive_pickling():
    for exc in (TransientHTTPError(503, 0.5), PermanentHTTPError(404), ConnectionDropped("x")):
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc) and str(copy) == str(exc)
    assert pickle.loads(pickle.dumps(TransientHTTPError(429, 0.25))).retry_after == 0.25


# -- a plain server ---------------------------------------------------------------------------------------------


def test_scores_are_deterministic_and_match_score_line(plain):
    client = SyncClient(plain.url, connections=4)
    lines = ["alpha", "beta gamma", "ünïcödé ✓", "   ", "alpha"]
    first = [client.score(line) for line in lines]
    assert first == [client.score(line) for line in lines] == [score_line(line) for line in lines]
    assert first[3] == 0  # a blank line scores 0 on the server too


def test_stats_count_what_the_server_saw(plain):
    post(plain.url, b"{}", "/reset")
    client = SyncClient(plain.url, connections=2)
    for line in ["one", "two", "one", "three"]:
        client.score(line)
    status, _, _ = post(plain.url, b"not json")
    assert status == 400
    stats = get_json(plain.url, "/stats")
    assert stats["requests"] == 5
    assert stats["served"] == 4
    assert stats["unique_lines"] == 3
    assert stats["by_status"] == {"200": 4, "400": 1}
    assert stats["in_flight"] == 0 and stats["max_in_flight"] >= 1
    assert stats["refused"] == stats["dropped"] == stats["malformed"] == stats["early_retries"] == 0
    assert stats["config"]["capacity"] == 0


def test_bad_and_oversized_bodies_are_refused_without_echo(plain):
    marker = "MARKER-7f3a"
    for body in (marker.encode(), json.dumps({"line": 5, "x": marker}).encode(), json.dumps({marker: "x"}).encode()):
        status, _, answer = post(plain.url, body)
        assert status == 400 and marker.encode() not in answer
    status, _, answer = post(plain.url, json.dumps({"line": marker * 20_000}).encode())
    assert status == 413 and marker.encode() not in answer
    with pytest.raises(PermanentHTTPError) as info:
        SyncClient(plain.url).score("x" * 100_000)
    assert info.value.status == 413


def test_other_4xx_is_a_permanent_error(plain):
    json_form = Protocol(path="/score")  # a raw line where the JSON form is expected: 400
    with pytest.raises(PermanentHTTPError) as info:
        SyncClient(plain.url, protocol=json_form).score("a line")
    assert info.value.status == 400

    with pytest.raises(PermanentHTTPError):
        score_with_async_client(plain.url, "a line", protocol=json_form)


def test_async_sessions_are_one_per_loop_and_closed_with_it(plain):
    async def go() -> tuple[AsyncClient, list[int]]:
        client = await async_client(plain.url, 8)
        assert await async_client(plain.url, 8) is client
        scores = await asyncio.gather(*(client.score(f"line {i}") for i in range(20)))
        return client, scores

    client, scores = asyncio.run(go())
    assert scores == [score_line(f"line {i}") for i in range(20)]
    assert client.closed
    second, _ = asyncio.run(go())
    assert second is not client


def test_connections_beyond_the_limit_are_closed():
    with ServerProcess("none", max_connections=2) as server:
        parts = urlsplit(server.url)
        request = (
            b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
            b'{"line":"a"}'
        )
        kept = []
        for _ in range(2):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            kept.append(sock)
        extra = socket.create_connection((parts.hostname, parts.port), timeout=30)
        try:
            extra.sendall(request)
            assert extra.recv(65536) == b""
        except ConnectionResetError:
            pass
        finally:
            extra.close()
            for sock in kept:
                sock.close()

        def refused() -> int | None:
            try:  # the server may still count the closed sockets for a moment, and refuse this one too
                return server.stats()["connections_refused"]
            except OSError:
                return None

        wait_for(lambda: refused() is not None, "the server to free its connections")
        assert refused() >= 1


# -- faults -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, error",
    [
        (Kind.UNAVAILABLE, TransientHTTPError),
        (Kind.ERROR, TransientHTTPError),
        (Kind.DROP, ConnectionDropped),
        (Kind.MALFORMED, MalformedResponse),
    ],
)
def test_faults_map_to_transient_errors(faulty, kind, error):
    sync_line, async_line = lines_meeting(FAULTS, kind, 2)
    with pytest.raises(error) as info:
        SyncClient(faulty.url).score(sync_line)

    with pytest.raises(error) as async_info:
        score_with_async_client(faulty.url, async_line)
    for exc in (info.value, async_info.value):
        assert isinstance(exc, TransientError)
        expected_wait = 0.25 if kind is Kind.UNAVAILABLE else None
        assert exc.retry_after == expected_wait
        if kind in (Kind.UNAVAILABLE, Kind.ERROR):
            assert exc.status == int(kind.value)


def test_both_malformed_bodies_are_caught(faulty):
    for variant in (0, 1):
        line = lines_meeting(FAULTS, Kind.MALFORMED, variant=variant)[0]
        with pytest.raises(MalformedResponse):
            SyncClient(faulty.url).score(line)


def test_every_client_meets_the_same_fault_sequence(faulty):
    client = SyncClient(faulty.url)
    lines = [f"sequence {i}" for i in range(30)]
    for line in lines:
        met = []
        for _ in range(6):
            try:
                client.score(line)
                met.append(Kind.OK)
            except TransientHTTPError as exc:
                met.append(Kind.UNAVAILABLE if exc.status == 503 else Kind.ERROR)
            except ConnectionDropped:
                met.append(Kind.DROP)
            except MalformedResponse:
                met.append(Kind.MALFORMED)
        assert met == [decide(FAULTS, line.encode(), k).kind for k in range(6)]
    stats = faulty.stats()
    assert stats["dropped"] > 0 and stats["malformed"] > 0 and stats["by_status"]["503"] > 0


# -- capacity and Retry-After ------------------------------------------------------------------------------------


CAPACITY = ServerConfig(capacity=1, slow_rate=0.5, slow_latency=1.5, retry_after=2.0)


@pytest.fixture(scope="module")
def narrow():
    with ServerProcess(config=CAPACITY) as server:
        yield server


def hold_the_only_slot(server: ServerProcess) -> threading.Thread:
    """Occupy the server's single slot with a slow request; return once it is in flight."""
    holder_line = f"holder {time.monotonic_ns()}"
    while not decide(CAPACITY, holder_line.encode(), 0).slow:
        holder_line += "+"
    thread = threading.Thread(target=SyncClient(server.url).score, args=(holder_line,))
    thread.start()
    wait_for(lambda: server.stats()["in_flight"] == 1, "the holder to be in flight")
    return thread


def test_stats_count_the_connections_open_at_once():
    with ServerProcess("none") as server:
        parts = urlsplit(server.url)
        control = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)  # one, kept alive throughout

        def ask(method: str, path: str) -> dict:
            control.request(method, path)
            response = control.getresponse()
            return json.loads(response.read())

        def peak_after_reset() -> int:  # a reset starts the peak from the connections open at that moment
            ask("POST", "/reset")
            return ask("GET", "/stats")["max_connections_open"]

        wait_for(lambda: peak_after_reset() == 1, "the control connection to be the only one open")
        held = [socket.create_connection((parts.hostname, parts.port)) for _ in range(5)]
        try:  # connections that never send a request count as well
            wait_for(lambda: ask("GET", "/stats")["max_connections_open"] == 6, "the five held connections")
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: peak_after_reset() == 1, "the five closed connections to leave the count")
        assert ask("GET", "/stats")["max_connections_open"] == 1
        control.close()


def test_over_capacity_is_429_with_retry_after(narrow):
    before = narrow.stats()
    holder = hold_the_only_slot(narrow)
    line = lines_meeting(CAPACITY, Kind.OK, slow=False)[0]
    with pytest.raises(TransientHTTPError) as info:
        SyncClient(narrow.url).score(line)
    holder.join()
    assert info.value.status == 429 and info.value.retry_after == 2.0
    after = narrow.stats()
    assert after["refused"] == before["refused"] + 1
    assert after["by_status"]["429"] == before["by_status"].get("429", 0) + 1
    assert after["max_in_flight"] == 1


def score_honouring(client: SyncClient, line: str) -> int:
    while True:
        try:
            return client.score(line)
        except TransientError as exc:
            time.sleep(exc.retry_after or 0.0)


def score_ignoring(client: SyncClient, line: str) -> int:
    while True:
        try:
            return client.score(line)
        except TransientError:
            time.sleep(0.01)


@pytest.mark.parametrize("honour", [True, False])
def test_early_retries_show_whether_retry_after_is_honoured(narrow, honour):
    before = narrow.stats()["early_retries"]
    holder = hold_the_only_slot(narrow)
    line = f"patient {honour} {time.monotonic_ns()}"
    score = (score_honouring if honour else score_ignoring)(SyncClient(narrow.url), line)
    holder.join()
    assert score == score_line(line)
    early = narrow.stats()["early_retries"] - before
    if honour:
        assert early == 0
    else:
        assert early > 0


# -- the server process --------------------------------------------------------------------------------------------


def test_server_process_is_gone_after_exit():
    with ServerProcess("none") as server:
        pid = server.pid
        assert psutil.Process(pid).is_running()
        assert get_json(server.url, "/health") == {"status": "ok"}
    assert gone(pid)


def test_server_process_exits_when_its_parent_dies():
    script = (
        "import sys, time\n"
        "from orchbench.workloads.scoring.server import ServerProcess\n"
        "server = ServerProcess('none')\n"
        "server.start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(3600)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        server_pid = int(parent.stdout.readline())
        assert psutil.Process(server_pid).is_running()
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_for(lambda: gone(server_pid), "the orphaned server to exit")
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert gone(server_pid)


def test_server_module_reports_a_bad_setting_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "orchbench.workloads.scoring.server", "--rate-500", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "rate_500" in done.stderr


def test_the_original_protocol_raw_line_to_any_path_with_any_or_no_content_type(plain):
    parts = urlsplit(plain.url)
    line = 'Grüße, a line with ünïcode and {"line": "json-looking"}'
    for path, headers in (
        ("/", {}),
        ("/any/prefix", {"Content-Type": "application/json"}),
        ("/", {"Content-Type": "text/plain"}),
    ):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            conn.request("POST", path, body=line.encode("utf-8"), headers=headers)
            response = conn.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"score": score_line(line)}), path
        finally:
            conn.close()
    status, _, body = post(plain.url, json.dumps({"line": line}).encode())  # the JSON form on /score, still
    assert (status, json.loads(body)) == (200, {"score": score_line(line)})
    status, _, _ = post(plain.url, b"\xff\xfe not UTF-8", path="/")
    assert status == 400
