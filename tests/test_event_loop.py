"""The async strategies' event loop: uvloop's when installed, asyncio's on request, and which one is recorded."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from orchbench.errors import UsageError
from orchbench.harness.environment import environment
from orchbench.runtime.loop import LOOP_ENV, loop_name, run_loop

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_on_request_and_the_environment_says_so(monkeypatch):
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    assert run_loop(_loop_module()).startswith("asyncio")
    assert loop_name() == "asyncio" and environment()["event_loop"] == "asyncio"


def test_by_default_uvloop_when_installed(monkeypatch):
    monkeypatch.delenv(LOOP_ENV, raising=False)
    module = run_loop(_loop_module())
    assert module.startswith("uvloop") == HAVE_UVLOOP
    assert loop_name() == ("uvloop" if HAVE_UVLOOP else "asyncio") == environment()["event_loop"]


def test_asking_for_uvloop_without_it_or_for_an_unknown_loop_is_a_usage_error(monkeypatch):
    monkeypatch.setenv(LOOP_ENV, "trio")
    with pytest.raises(UsageError, match="ORCHBENCH_LOOP='trio'"):
        run_loop(_loop_module())
    monkeypatch.setenv(LOOP_ENV, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    with pytest.raises(UsageError, match="uvloop is not installed"):
        run_loop(_loop_module())
    assert loop_name() == "asyncio"
