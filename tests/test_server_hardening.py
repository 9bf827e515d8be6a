"""The scoring server's new faults (never answers, dies) and its hardening: loopback by default, no echo of any
request in any error body, a restart bridged by the client's retries. Real servers on loopback."""

from __future__ import annotations

import ast
import socket
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from orchbench.errors import AttemptTimeout
from orchbench.runtime import deadline
from orchbench.workloads.scoring.client import ConnectionDropped, RequestTimeout, SyncClient
from orchbench.workloads.scoring.scores import score_line
from orchbench.workloads.scoring.server import DEFAULT_HOST, ServerConfig, ServerProcess, _parser, get_json
from tests.helpers import score_with_async_client

ROOT = Path(__file__).resolve().parents[1]
MARKER = b"MARKER-9c2e"


def _raw(url: str, payload: bytes) -> bytes:
    """Send raw bytes, read the whole answer (the server closes after an error)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def plain():
    with ServerProcess("none") as server:
        yield server


# -- loopback, no echo ----------------------------------------------------------------------------------------


def test_every_way_of_starting_the_server_binds_loopback_by_default():
    assert DEFAULT_HOST == "127.0.0.1"
    assert _parser().parse_args([]).host == "127.0.0.1"
    from orchbench.workloads.scoring.serve import serve_command

    assert serve_command.__defaults__[0] == "127.0.0.1"


def test_the_server_listens_on_loopback_only(plain):
    listening = {c.laddr.ip for c in psutil.Process(plain.pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}


@pytest.mark.parametrize(
    "payload",
    [
        b"<" + MARKER + b"> / HTTP/1.1\r\nHost: x\r\n\r\n",  # an unparsable request line
        b"POST /score HTTP/1.1\r\nHost: x\r\nX-B\x01d: " + MARKER + b"\r\n\r\n",  # a bad header name
        b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 1" + MARKER + b"\r\n\r\n",  # a bad length
        b"GET /" + MARKER + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # an unknown path
        b"PUT /score?" + MARKER + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",  # a method
    ],
    ids=["request-line", "header", "content-length", "path", "method"],
)
def test_no_error_answer_echoes_the_request(plain, payload):
    answer = _raw(plain.url, payload)
    assert answer.startswith(b"HTTP/1.") and b" 200 " not in answer.split(b"\r\n")[0]
    assert MARKER not in answer


def test_no_results_file_is_ever_read_with_pickle():
    """Results and comparisons are JSON: no module of the package (or of the Ray plugin) deserialises pickle."""
    banned = {"pickle", "cPickle", "dill", "shelve", "marshal", "cloudpickle", "joblib"}
    offenders = []
    for path in [*ROOT.joinpath("orchbench").rglob("*.py"), *ROOT.joinpath("plugins").rglob("src/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in banned]
    assert offenders == []


def test_a_pickled_results_file_is_refused_in_one_line_without_being_unpickled(tmp_path):
    import pickle

    from orchbench.errors import UsageError
    from orchbench.results import document as results

    path = tmp_path / "results.json"
    path.write_bytes(pickle.dumps({"runs": []}))  # what an attacker would plant: never handed to pickle
    with pytest.raises(UsageError) as info:
        results.load(path)
    assert len(str(info.value).splitlines()) == 1


# -- a server that never answers, one that dies ---------------------------------------------------------------


def test_a_server_that_never_answers_is_cut_by_the_timeouts():
    with ServerProcess(config=ServerConfig(hang_rate=1.0)) as server:
        assert get_json(server.url, "/health")["status"] == "ok"  # alive, accepting, just never scoring
        with pytest.raises(RequestTimeout):
            SyncClient(server.url, timeout=0.3).score("a line")
        with deadline.attempt_deadline(0.3), pytest.raises(AttemptTimeout):
            SyncClient(server.url).score("a line")

        with pytest.raises(RequestTimeout):
            score_with_async_client(server.url, "a line", timeout=0.3)
        assert server.stats()["hung"] == 3


def test_a_server_that_dies_stays_dead_and_every_later_request_is_a_transient_drop():
    server = ServerProcess(config=ServerConfig(die_after=3))
    server.start()
    try:
        client = SyncClient(server.url)
        assert [client.score(f"line {i}") for i in range(2)] == [score_line(f"line {i}") for i in range(2)]
        with pytest.raises(ConnectionDropped):
            client.score("the third request kills it")
        assert server._proc.wait(timeout=30) == -9  # SIGKILL, as a crash
        with pytest.raises(ConnectionDropped, match="cannot connect"):
            client.score("nobody listens")
    finally:
        server.stop()


def test_server_settings_are_checked():
    with pytest.raises(ValueError, match="hang_rate"):
        ServerConfig(hang_rate=1.5).validate()
    with pytest.raises(ValueError, match="die_after"):
        ServerConfig(die_after=-1).validate()
    with pytest.raises(ValueError, match="add up"):
        ServerConfig(hang_rate=0.6, drop_rate=0.6).validate()


def test_the_workload_passes_the_new_faults_to_its_embedded_server():
    from orchbench.runtime.cache import ResourceCache
    from orchbench.types import RunSpec
    from orchbench.workloads.scoring import ScoringWorkload

    spec = RunSpec("threads", workload="scoring", workload_options={"hang_rate": 0.25, "die_after": 40})
    config = ScoringWorkload(spec, ResourceCache()).server_config()
    assert (config.hang_rate, config.die_after) == (0.25, 40)


def test_orchbench_serve_takes_the_new_faults():
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchbench",
            "serve",
            "--port",
            "0",
            "--scenario",
            "none",
            "--die-after",
            "2",
            "--hang-rate",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("scoring server on"), line
        client = SyncClient(line.split()[3])
        assert client.score("line 1") == score_line("line 1")
        with pytest.raises(ConnectionDropped):
            client.score("the second request kills it")
        assert proc.wait(timeout=30) == -9
    finally:
        proc.kill()
        proc.wait()
