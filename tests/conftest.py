"""Shared test set-up: tests see only orchbench's own plugins unless a test asks for more."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("ORCHBENCH_PLUGINS", "")  # no stray third-party entry points in the suite
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Tests run in a temporary directory, so nothing lands in the repository's results/."""
    monkeypatch.chdir(tmp_path)
