"""The tree sampler finds the same processes however it lists them, and measures a real child's memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from orchbench.harness.sampler import TreeSampler, _descendants

# A child that starts a grandchild from a second thread (listed under that thread's task), then waits.
_TREE = (
    "import subprocess, sys, threading, time\n"
    "sleeper = [sys.executable, '-c', 'import time; time.sleep(30)']\n"
    "threading.Thread(target=lambda: subprocess.Popen(sleeper)).start()\n"
    "subprocess.Popen(sleeper)\n"
    "print('ready', flush=True); time.sleep(30)\n"
)


@pytest.mark.skipif(_descendants(os.getpid()) is None, reason="no /proc children files on this system")
def test_proc_children_listing_matches_psutil():
    child = subprocess.Popen([sys.executable, "-c", _TREE], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        expected = {child.pid}
        deadline = time.monotonic() + 10
        while len(expected) < 3 and time.monotonic() < deadline:  # both grandchildren started
            expected = {child.pid, *(p.pid for p in psutil.Process(child.pid).children(recursive=True))}
            time.sleep(0.02)
        assert len(expected) == 3
        mine = set(_descendants(os.getpid()))
        assert expected <= mine
        assert mine == {p.pid for p in psutil.Process().children(recursive=True)}
    finally:
        for proc in psutil.Process(child.pid).children(recursive=True):
            proc.kill()
        child.kill()
        child.wait()


def test_sampler_records_a_child_tree():
    child = subprocess.Popen([sys.executable, "-c", _TREE], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with TreeSampler(child.pid, period_s=0.01) as sampler:
            time.sleep(0.3)
        assert max(len(reading) for _, reading in sampler.samples) == 3  # the child and its two children
        rss, uss = sampler.peaks()
        assert rss is not None and rss > 3 * 5_000_000  # three Python interpreters
        assert uss is not None and 0 < uss <= rss
    finally:
        for proc in psutil.Process(child.pid).children(recursive=True):
            proc.kill()
        child.kill()
        child.wait()
