"""The pytest plugin (entry point ``pytest11``: installing orchbench is enough): the ``orchbench`` fixture.

::

    def test_my_pipeline_is_right_under_every_strategy(orchbench):
        comparison = orchbench.compare(my_pipeline.measure, ["sequential", "asyncio"], iterations=3, input="data.txt")
        assert comparison.correct == ["asyncio", "sequential"] or comparison.winner

``orchbench.compare`` and ``orchbench.run`` take what :func:`orchbench.compare` and :func:`orchbench.run` take
(every run a fresh process) and fail the test with the first error of the first strategy whose output was wrong,
incomplete or failed. Options: ``--orchbench-save DIR`` keeps every comparison's results file there (one per test,
named after it); ``--orchbench-skip-ray`` (or the marker ``@pytest.mark.orchbench_skip_ray``) leaves out the
strategies that need Ray, skipping a test that named only those.

This module is imported by every pytest session where orchbench is installed: it imports nothing heavy until a
test asks for the fixture.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from orchbench.python_api import Comparison
    from orchbench.types import RunResult

SKIP_RAY_MARK = "orchbench_skip_ray"
SAVE_DIR = pytest.StashKey["Path | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("orchbench", "orchbench: benchmark pipeline orchestration strategies")
    group.addoption(
        "--orchbench-save",
        metavar="DIR",
        default=None,
        help="Save each comparison the orchbench fixture runs as a results file in DIR (orchbench report reads it).",
    )
    group.addoption(
        "--orchbench-skip-ray",
        action="store_true",
        default=False,
        help="Leave out the strategies that need Ray from the orchbench fixture's comparisons.",
    )


def pytest_configure(config: pytest.Config) -> None:
    save = config.getoption("orchbench_save", None)
    config.stash[SAVE_DIR] = Path(save).resolve() if save else None  # now: a test may change directory
    config.addinivalue_line(
        "markers", f"{SKIP_RAY_MARK}: the orchbench fixture leaves out the strategies that need Ray in this test"
    )


def needs_ray(name: str) -> bool:
    """Whether a strategy (or a preset of one) comes from a plugin distribution that depends on Ray."""
    from importlib import metadata

    from orchbench.harness.plugins import get_registry

    registry = get_registry()
    preset = registry.presets().get(name)
    entry = registry.entries["strategy"].get(preset.strategy if preset is not None else name)
    if entry is None or not entry.source.distribution:
        return False
    try:
        requirements = metadata.requires(entry.source.distribution) or []
    except metadata.PackageNotFoundError:
        return False
    return any(re.split(r"[^A-Za-z0-9._-]", r.strip(), maxsplit=1)[0].lower() == "ray" for r in requirements)


class OrchbenchFixture:
    """What the ``orchbench`` fixture gives a test: :meth:`compare` and :meth:`run`, failing it when wrong."""

    def __init__(self, node: pytest.Item, save_dir: Path | None, skip_ray: bool) -> None:
        self.node = node
        self.save_dir = save_dir
        self.skip_ray = skip_ray
        self.saved: list[Path] = []

    def _strategies(self, strategies: Sequence[str] | str | None) -> list[str] | None:
        from orchbench.harness.specs import strategy_names

        if not self.skip_ray:
            return None if strategies is None else ([strategies] if isinstance(strategies, str) else list(strategies))
        names = strategy_names([strategies] if isinstance(strategies, str) else list(strategies or []) or None)
        kept = [n for n in names if not needs_ray(n)]
        if not kept:
            pytest.skip(f"every strategy named needs Ray ({', '.join(names)}), and Ray strategies are left out")
        return kept

    def compare(
        self, workload: Any = None, strategies: Sequence[str] | str | None = None, iterations: int = 5, **options: Any
    ) -> Comparison:
        """:func:`orchbench.compare`; the test fails with the first error when a strategy's output is not right."""
        from orchbench.errors import UsageError
        from orchbench.python_api import compare

        try:
            comparison = compare(workload, self._strategies(strategies), iterations, **options)
        except UsageError as exc:
            pytest.fail(f"orchbench: {exc}", pytrace=False)
        if self.save_dir is not None:
            target = self.save_dir / f"{_file_stem(self.node.nodeid)}.json"
            self.saved.append(comparison.save(target, exclusive=True))
        if comparison.failed:
            name, error = next(iter(comparison.failed.items()))
            others = len(comparison.failed) - 1
            more = f" (and {others} other strateg{'y' if others == 1 else 'ies'})" if others else ""
            pytest.fail(f"orchbench: {name}: {error}{more}", pytrace=False)
        return comparison

    def run(self, strategy: str, workload: Any = None, **options: Any) -> RunResult:
        """:func:`orchbench.run`; the test fails with the run's error when its output is not right."""
        from orchbench.errors import UsageError
        from orchbench.python_api import run
        from orchbench.results.verdicts import run_problem

        if self.skip_ray and needs_ray(strategy):
            pytest.skip(f"{strategy} needs Ray, and Ray strategies are left out")
        try:
            result = run(strategy, workload, **options)
        except UsageError as exc:
            pytest.fail(f"orchbench: {exc}", pytrace=False)
        if not result.ok:
            pytest.fail(f"orchbench: {result.name}: {run_problem(result)}", pytrace=False)
        return result


def _file_stem(nodeid: str) -> str:
    """A file name from a test id: ``tests/test_x.py::test_y[a-b]`` → ``tests-test_x.py-test_y-a-b``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", nodeid).strip("-.") or "test"


@pytest.fixture
def orchbench(request: pytest.FixtureRequest) -> OrchbenchFixture:
    """Run orchbench comparisons in a test: ``orchbench.compare(workload, strategies, iterations, **options)``."""
    config = request.config
    marked = request.node.get_closest_marker(SKIP_RAY_MARK) is not None
    skip_ray = bool(config.getoption("orchbench_skip_ray")) or marked
    return OrchbenchFixture(request.node, config.stash.get(SAVE_DIR, None), skip_ray)
