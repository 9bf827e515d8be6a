"""A wait a service asks for (Retry-After) is honoured only within the retry policy's cap and the item's wait
budget; a longer ask fails the item at once, saying why — in the attempt loops, in runs and in `reference record`."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from orchbench.errors import TransientError, WaitRefused
from orchbench.harness.attempts import AttemptLog, acall_with_retry, call_with_retry
from orchbench.harness.hedge import acall_hedged
from orchbench.harness.retry import ExponentialRetry, FixedRetry, HedgedRetry
from tests.helpers import cli
from tests.hostile import Request, raw_server, reply


def _asking(*waits: float):
    """An attempt that fails asking for each wait in turn, then succeeds."""
    asks = list(waits)

    def attempt(k: int) -> int:
        if asks:
            raise TransientError("busy", retry_after=asks.pop(0))
        return k

    return attempt


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    import time as time_module

    record: list[float] = []
    monkeypatch.setattr(time_module, "sleep", record.append)
    return record


@pytest.mark.adversarial("waits with no end")
def test_an_ask_above_the_cap_fails_the_item_at_once_with_the_reason(slept):
    log = AttemptLog()
    with pytest.raises(WaitRefused, match=r"busy; asked to wait 3600 s; cap 30 s \(retry.retry_after_cap\)"):
        call_with_retry(FixedRetry(delay=0.0, max_attempts=9), (TransientError,), _asking(3600), log)
    assert log.attempts == 1 and slept == []


def test_an_ask_within_the_cap_is_honoured(slept):
    log = AttemptLog()
    assert call_with_retry(ExponentialRetry(base=0.0, cap=0.0, retry_after_cap=5), (TransientError,), _asking(5), log)
    assert slept == [5.0]


@pytest.mark.adversarial("waits with no end")
def test_asks_beyond_the_items_wait_budget_fail_it_with_the_reason(slept):
    policy = FixedRetry(delay=0.0, max_attempts=20, retry_after_cap=30, wait_budget=60)
    with pytest.raises(WaitRefused, match=r"asked to wait 25 s; 10 s left of this item's wait budget \(60 s"):
        call_with_retry(policy, (TransientError,), _asking(25, 25, 25), AttemptLog())
    assert slept == [25.0, 25.0]


def test_the_policys_own_backoff_is_cut_to_the_budget_left(slept):
    policy = FixedRetry(delay=4.0, max_attempts=5, wait_budget=10)
    call_with_retry(policy, (TransientError,), _asking(0, 0, 0, 0), AttemptLog())
    assert slept == [4.0, 4.0, 2.0, 0.0]


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize("hedged", [False, True])
def test_async_loops_refuse_a_long_ask_too(hedged):
    asks = [3600.0]

    async def attempt(k: int) -> int:
        if asks:
            raise TransientError("busy", retry_after=asks.pop(0))
        return k

    policy = HedgedRetry(delay=0.0) if hedged else ExponentialRetry()
    loop = acall_hedged if hedged else acall_with_retry
    with pytest.raises(WaitRefused, match="asked to wait 3600 s; cap 30 s"):
        asyncio.run(asyncio.wait_for(loop(policy, (TransientError,), attempt, AttemptLog()), 30))


# --- end to end: a service that asks for an hour -----------------------------------------------------------


def _asks_for_an_hour(conn: socket.socket, request: Request) -> None:
    conn.sendall(reply(429, b'{"error": "slow down"}', "Retry-After: 3600"))


@pytest.mark.adversarial("waits with no end")
@pytest.mark.parametrize("strategy", ["sequential", "threads", "asyncio"])
def test_a_run_against_a_service_asking_for_an_hour_fails_its_lines_at_once(tmp_path, strategy):
    lines = tmp_path / "lines.txt"
    lines.write_text("one\ntwo\n")
    with raw_server(_asks_for_an_hour) as url:
        proc = cli("run", strategy, "-w", "scoring", "--url", url, "--input", str(lines), "--json", timeout=120)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["failed"] == 2 and result["attempts"] == 2
    assert all("asked to wait 3600 s; cap 30 s" in failure["error"] for failure in result["failures"])


@pytest.mark.adversarial("waits with no end")
def test_reference_record_against_a_service_asking_for_an_hour_says_why_at_once(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("one\n")
    with raw_server(_asks_for_an_hour) as url:
        proc = cli(
            "reference", "record", "-w", "scoring", "--url", url, "--input", str(lines), "-o", str(tmp_path / "r.json")
        )
    assert proc.returncode == 2
    assert "asked to wait 3600 s; cap 30 s" in proc.stderr
    assert not (tmp_path / "r.json").exists()
