"""Small helpers for the suite."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from orchbench.harness.runner import execute
from orchbench.types import RunResult, RunSpec

NO_WAIT = {"base": 0.0, "cap": 0.0}


def run_here(strategy: str = "sequential", **fields) -> RunResult:
    """Run a spec in this process (fast; no child, no sampler)."""
    fields.setdefault("scenario", "none")
    return execute(RunSpec(strategy=strategy, **fields))


def cli(
    *args: str,
    input: str | None = None,
    env: dict | None = None,
    timeout: float = 120,
    cwd: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess:
    """Run ``python -m orchbench ARGS`` as a user would, capturing output."""
    return subprocess.run(
        [sys.executable, "-m", "orchbench", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@contextmanager
def group_killed_after(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """A command started with ``start_new_session=True``: its whole process group is killed if it still runs
    when the block ends (a failed assertion, a timeout), so that nothing it started outlives the test."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ctrl_c(proc: subprocess.Popen) -> str:
    """What a terminal does on Ctrl-C (SIGINT to the whole foreground group); the command's stderr once it ended
    (within 60 s)."""
    os.killpg(proc.pid, signal.SIGINT)
    return proc.communicate(timeout=60)[1]


def score_with_async_client(url: str, line: str, **client_options) -> int:
    """Score one line with a fresh AsyncClient on a fresh event loop, closing the client whatever happens."""
    from orchbench.workloads.scoring.client import AsyncClient

    async def go() -> int:
        client = AsyncClient(url, **client_options)
        try:
            return await client.score(line)
        finally:
            await client.close()

    return asyncio.run(go())


def share_dictionary_index(monkeypatch) -> None:
    """Build the anagram index once for the whole test process instead of once per in-process run (speed only:
    every run still goes through its own ResourceCache)."""
    import orchbench.workloads.anagrams as anagrams

    monkeypatch.setattr(anagrams, "_index_loader", _shared_index)


@functools.cache
def _shared_index():
    from orchbench.workloads.anagrams import tasks
    from orchbench.workloads.anagrams.dictionary import cached_words

    return tasks.build_index(cached_words())
