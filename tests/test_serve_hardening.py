"""``orchbench serve``: the values a run refuses are refused here too, loopback is all of 127.0.0.0/8 and ::1, a
hang-up stops it like SIGTERM, and running out of descriptors is a counted line, never a flood of tracebacks."""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from orchbench.workloads.scoring.app import TroubleLines
from orchbench.workloads.scoring.serve import is_loopback
from tests.cli_here import assert_one_clear_line, cli_here
from tests.helpers import cli

STARTUP_S = 60


@contextmanager
def serving(*args: str, fd_limit: int | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``orchbench serve --port 0 ARGS`` in a session of its own; yields the process and its URL once it is ready;
    always ends it."""

    def limit() -> None:
        if fd_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    proc = subprocess.Popen(
        [sys.executable, "-m", "orchbench", "serve", "--port", "0", "--scenario", "none", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=limit,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(STARTUP_S)
    try:
        assert lines and lines[0].startswith("scoring server on http://"), (lines, proc.poll())
        yield proc, lines[0].split()[3]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


# --- the values a run refuses -------------------------------------------------------------------------------


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--retry-after", "1e308"], "--retry-after must be at most a day"),
        (["--latency-median", "1e308"], "--latency-median must be at most a day"),
        (["--slow-latency", "1e9"], "--slow-latency must be at most a day"),
        (["--latency-median", "1", "--latency-sigma", "1e308"], "more than a day"),
        (["--host", ""], "--host '' is not an address or a host name"),
        (["--host", " "], "is not an address or a host name"),
    ],
)
def test_serve_refuses_what_a_run_refuses_in_one_line(args, fragment):
    ran = cli_here("serve", "--port", "0", *args)
    assert ran.code == 2
    assert_one_clear_line(ran, fragment)


@pytest.mark.adversarial("options accepted that cannot work")
def test_a_run_refuses_the_same_server_values():
    ran = cli_here(
        "run",
        "sequential",
        "-w",
        "scoring",
        "--test-case",
        "small",
        "--set",
        "latency_sigma=1e308",
        "--set",
        "latency_median=1",
    )
    assert ran.code == 2
    assert_one_clear_line(ran, "more than a day")


@pytest.mark.adversarial("options accepted that cannot work")
@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_all_of_127_0_0_0_8_and_ipv6_loopback_are_loopback(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "128.0.0.1"])
def test_other_addresses_are_not_loopback(host):
    assert not is_loopback(host)


@pytest.mark.adversarial("options accepted that cannot work")
def test_serving_on_127_0_0_2_gives_no_warning():
    with serving("--host", "127.0.0.2") as (proc, url):
        assert url.startswith("http://127.0.0.2:")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "warning" not in err


# --- a hang-up ------------------------------------------------------------------------------------------------


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_serve_stops_on_a_hang_up_as_on_sigterm(sig):
    with serving() as (proc, _):
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "scoring server stopped" in out and "Traceback" not in err


# --- out of descriptors ---------------------------------------------------------------------------------------


@pytest.mark.adversarial("floods")
@pytest.mark.slow  # fills listen queues machine-wide, which parallel measurement tests would note
def test_connections_beyond_the_descriptor_limit_are_refused_not_a_traceback_flood():
    with serving(fd_limit=64) as (proc, url):
        port = int(url.rsplit(":", 1)[1])
        held = []
        try:
            for _ in range(200):  # far more than 64 descriptors
                held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            with socket.create_connection(("127.0.0.1", port), timeout=10) as probe:
                probe.settimeout(10)
                try:
                    probe.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    probe.recv(1024)
                except OSError:
                    pass  # refused at once (closed) is an acceptable answer under the limit
        finally:
            for sock in held:
                sock.close()
        assert cli("run", "sequential", "-w", "scoring", "--url", url, "--test-case", "small").returncode == 0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err and len(err.splitlines()) <= 4, err


def test_loop_trouble_is_one_line_per_kind_then_counted():
    written: list[str] = []
    trouble = TroubleLines(written.append)

    async def flood() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(trouble)
        failure = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        for _ in range(1699):
            loop.call_exception_handler({"message": "socket.accept() out of system resource", "exception": failure})
        loop.call_exception_handler({"message": "something else", "exception": ValueError("bad")})

    asyncio.run(flood())
    assert written == [
        "scoring server: socket.accept() out of system resource (EMFILE: Too many open files); further ones are "
        "counted",
        "scoring server: something else (ValueError: bad); further ones are counted",
    ]
    assert trouble.summary() == [
        "scoring server: socket.accept() out of system resource (EMFILE: Too many open files): 1,699 times"
    ]
