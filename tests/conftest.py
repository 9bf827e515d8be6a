"""Shared test set-up: tests see only orchbench's own plugins unless a test asks for more."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("ORCHBENCH_PLUGINS", "")  # no stray third-party entry points in the suite
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Tests run in a temporary directory, so nothing lands in the repository's results/."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A Ray head on loopback with 2 CPUs, for the whole session (see ``tests/ray_head.py``)."""
    from tests.ray_head import ray_head

    with ray_head() as address:
        yield address
