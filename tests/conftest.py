"""Shared test set-up: tests see only orchbench's own plugins unless a test asks for more."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator

import pytest

TOKEN_DIR = pytest.StashKey[str]()

os.environ.setdefault("ORCHBENCH_PLUGINS", "")  # no stray third-party entry points in the suite
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def pytest_configure(config: pytest.Config) -> None:
    """One Ray token for the session, set before any test uses Ray: Ray reads RAY_AUTH_MODE once per process, so
    a test that ran a local Ray before the session's cluster started would otherwise be refused by the cluster."""
    token_dir = tempfile.mkdtemp(prefix="obtoken-")
    token = os.path.join(token_dir, "auth_token")
    with open(token, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
    config.stash[TOKEN_DIR] = token_dir
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=token)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(config.stash.get(TOKEN_DIR, ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Tests run in a temporary directory, so nothing lands in the repository's results/."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def no_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in this process stop where a measured run would start (see ``tests/cli_here.py``)."""
    from tests.cli_here import block_runs

    block_runs(monkeypatch)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A Ray head on loopback with 2 CPUs, for the whole session (see ``tests/ray_head.py``)."""
    from tests.ray_head import ray_head

    with ray_head() as address:
        yield address


# With `hatch test --parallel` (pytest-xdist), every test that starts Ray goes to one worker, so one Ray runtime
# serves them all and two never compete for the 2 cores. xdist's own `xdist_group` cannot do it under pytest 9
# (it renames node ids, which pytest no longer reads), so the scheduler groups by a name every Ray test carries.
RAY_IN_NODE_ID = re.compile(r"(?<![a-z])ray(?![a-z])", re.IGNORECASE)
# Modules whose module-scoped fixture is costly (a venv with packages installed): their tests go to one worker,
# so the fixture is built once, not once per worker.
ONE_WORKER_MODULES = ("tests/test_example_plugin.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unnamed = [
        item.nodeid for item in items if item.get_closest_marker("ray") and not RAY_IN_NODE_ID.search(item.nodeid)
    ]
    if unnamed:
        raise pytest.UsageError(
            f"a test marked ray must say 'ray' in its name or file, for the scheduler: {unnamed[0]}"
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class RayTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if RAY_IN_NODE_ID.search(nodeid):
                return "ray"
            module = nodeid.split("::")[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return RayTestsTogether(config, log)
