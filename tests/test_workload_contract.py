"""orchbench.testing.WorkloadContract on both built-in workloads, the example plugin's and a @orchbench.workload
defined in a plugin file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchbench.testing import StrategyContract, WorkloadContract

ROOT = Path(__file__).resolve().parents[1]


class TestAnagrams(WorkloadContract):
    workload = "anagrams"
    case = "small"


class TestScoring(WorkloadContract):
    workload = "scoring"
    case = "small"


class TestExamplePluginsWordlen(WorkloadContract):
    workload = "wordlen"
    case = "medium"

    @pytest.fixture(autouse=True)
    def _with_the_example_plugin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        pytest.importorskip("orchbench_example", reason="the orchbench-example plugin is not installed")
        monkeypatch.setenv("ORCHBENCH_PLUGINS", "orchbench-example")


class TestAFunctionWorkloadFromAFile(WorkloadContract):
    workload = "line-lengths"
    input_path = str(ROOT / "README.md")
    plugins = (str(ROOT / "examples" / "my_pipeline.py"),)


@pytest.mark.slow  # a server per run: ~12 s on 2 shared cores
class TestThreadsOnScoringWithOptions(StrategyContract):
    """StrategyContract with a case and workload options, as --test-case and --set give them."""

    strategy = "threads"
    workload = "scoring"
    case = "small"
    workload_options = {"send_blank": True, "http_timeout": 30}


class TestTheSqliteExample(WorkloadContract):
    """A sync worker factory (a SQLite connection per worker)."""

    workload = "orders-counted"
    case = "small"
    plugins = (str(ROOT / "tests" / "counted_examples.py"),)


class TestAnAsyncWorkerFactory(WorkloadContract):
    """An async worker factory (a resource bound to the loop that opened it), also in worker processes."""

    workload = "per-loop"
    case = "small"
    plugins = (str(ROOT / "tests" / "worker_pipelines.py"),)
