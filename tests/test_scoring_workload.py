"""The scoring workload: corpora, scores, input checks, the embedded server's life, and whole runs by hand."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pluggy
import psutil
import pytest

from orchbench import hookspecs
from orchbench.api import TaskProfile
from orchbench.errors import TransientError, UsageError
from orchbench.types import RunSpec
from orchbench.workloads import scoring
from orchbench.workloads.scoring import SCENARIO_HELP, ScoringWorkload
from orchbench.workloads.scoring.corpus import BLANK_SHARE, CASE_LINES, case_corpus, generate_corpus
from orchbench.workloads.scoring.scores import is_blank, score_line, split_lines, total_score
from orchbench.workloads.scoring.server import SCENARIOS, Kind, decide
from tests.helpers import run_here


def workload(**spec: object) -> ScoringWorkload:
    options = spec.pop("options", {})
    return ScoringWorkload(RunSpec(strategy="sequential", workload="scoring", workload_options=options, **spec), None)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- lines and scores ---------------------------------------------------------------------------------------------


def test_split_lines_keeps_blank_lines_and_drops_line_endings():
    assert split_lines("") == []
    assert split_lines("a\nb") == split_lines("a\nb\n") == ["a", "b"]
    assert split_lines("a\r\n\r\nb\n\n") == ["a", "", "b", ""]
    assert split_lines("x\u2028y\n") == ["x\u2028y"]  # only \n ends a line


def test_score_line_is_deterministic_and_blank_lines_score_zero():
    assert score_line("hello") == score_line("hello")
    assert score_line("hello") != score_line("hello ")
    assert score_line("") == score_line("   ") == score_line("\t") == 0
    scores = [score_line(f"line {i}") for i in range(2000)]
    assert all(1 <= s <= 1000 for s in scores) and len(set(scores)) > 500
    assert score_line("ünïcödé") == score_line("ünïcödé")


# -- corpora -----------------------------------------------------------------------------------------------------


def test_corpus_is_deterministic():
    assert generate_corpus(1000, seed=3) == generate_corpus(1000, seed=3)
    assert generate_corpus(1000, seed=3) != generate_corpus(1000, seed=4)
    assert generate_corpus(0) == ""


@pytest.mark.parametrize("case", sorted(CASE_LINES))
def test_cases_have_their_line_count_duplicates_and_blank_lines(case):
    lines = split_lines(case_corpus(case))
    assert len(lines) == CASE_LINES[case]
    blank = sum(1 for line in lines if is_blank(line))
    counts = Counter(line for line in lines if not is_blank(line))
    assert blank > 0 and any(line == "" for line in lines)
    assert max(counts.values()) > 1
    if len(lines) >= 1000:
        assert abs(blank / len(lines) - BLANK_SHARE) < 0.02
        assert 0.3 < len(counts) / (len(lines) - blank) < 0.8  # many repeats, yet many distinct lines
        assert any(any(ord(ch) > 127 for ch in line) for line in counts)


def test_workload_declares_the_cases_and_scenarios():
    assert set(ScoringWorkload.cases) == set(CASE_LINES)
    assert set(ScoringWorkload.scenarios) == set(SCENARIO_HELP) == set(SCENARIOS)
    assert ScoringWorkload.default_case == "1k" and ScoringWorkload.default_scenario == "default"
    assert ScoringWorkload.unit == "lines" and ScoringWorkload.map_task == "score_line"
    assert ScoringWorkload.transient_errors == (TransientError,)
    # no latency or faults of the harness's own (the server's are the real ones); a request is idempotent
    assert workload().task_profiles("default") == {"score_line": TaskProfile(idempotent=True)}


def test_hook_registers_the_workload():
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(scoring)
    assert manager.hook.orchbench_workloads() == [[ScoringWorkload]]


# -- input -----------------------------------------------------------------------------------------------------


def test_load_input_reads_cases_and_files(tmp_path):
    assert workload(case="small").load_input() == case_corpus("small")
    assert workload().load_input() == case_corpus("1k")
    path = tmp_path / "in.txt"
    path.write_text("one\n\ntwo\n", encoding="utf-8")
    assert workload(input_path=str(path)).load_input() == "one\n\ntwo\n"


@pytest.mark.parametrize("content", [None, b"", b"\n  \n", b"caf\xe9\n"])
def test_unusable_input_files_are_one_line_usage_errors(tmp_path, content):
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError) as info:
        workload(input_path=str(path)).load_input()
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_bad_case_scenario_and_options_are_usage_errors():
    with pytest.raises(UsageError, match="did you mean '1k'"):
        workload(case="1K").load_input()
    with pytest.raises(UsageError, match="scenario"):
        workload(scenario="fastest").server_config()
    with pytest.raises(UsageError, match="capacity"):
        workload(options={"capacity": "many"})
    with pytest.raises(UsageError, match="more than 1"):
        workload(options={"rate_500": 0.7, "rate_503": 0.7}).server_config()
    with pytest.raises(UsageError, match="URL"):
        workload(options={"url": "localhost:8080"})


# -- output, reference and limit -------------------------------------------------------------------------------------


def test_reference_is_the_local_sum_and_reduce_agrees():
    raw = case_corpus("1k")
    w = workload()
    lines = w.prepare(raw, None)
    expected = sum(score_line(line) for line in split_lines(raw))
    assert w.reference(raw) == {"total": expected, "scores": [score_line(line) for line in lines]}
    assert w.reference(raw)["total"] == total_score(lines)
    assert w.reduce([score_line(line) for line in lines]) == w.reference(raw)
    with pytest.raises(ValueError):
        w.reduce([1, None, 3])
    assert w.item_key("a line") == "a line"


def test_limit_with_fixed_latency_and_no_faults_is_lines_over_capacity_times_latency():
    w = workload(scenario="none", options={"latency_median": 0.1, "capacity": 4})
    items = [f"line {i}" for i in range(40)] + ["", "line 0"]
    assert w.limit_s("", items, {}) == pytest.approx(40 / 4 * 0.1)


def test_limit_counts_faulted_requests_and_the_slowest_lines_attempts_and_waits():
    w = workload(scenario="default", seed=2)
    config = w.server_config()
    items = [f"line {i}" for i in range(300)]
    busy = critical = 0.0
    for line in items:
        path = 0.0
        for attempt in range(50):
            d = decide(config, line.encode(), attempt)
            busy += d.latency
            path += d.latency + (config.retry_after if d.kind is Kind.UNAVAILABLE else 0.0)
            if d.kind is Kind.OK:
                critical = max(critical, path)
                break
    assert w.limit_s("", items, {}) == pytest.approx(max(busy / config.capacity, critical))
    assert busy > sum(
        decide(config, line.encode(), 0).latency for line in items if decide(config, line.encode(), 0).kind is Kind.OK
    )


def test_limit_is_the_critical_path_when_a_lines_retries_outlast_the_capacity_floor():
    # Unlimited capacity, a fixed 0.1 s latency, half the requests answered 503 with "come back in 3 s": a line
    # whose first two requests are refused cannot be scored before 2 x 3 s + 0.1 s, whatever the concurrency.
    w = workload(scenario="none", options={"latency_median": 0.1, "rate_503": 0.5, "retry_after": 3.0, "capacity": 0})
    config = w.server_config()
    items = [f"line {i}" for i in range(40)]
    refusals = []
    for line in items:
        kinds = [decide(config, line.encode(), k).kind for k in range(60)]
        refusals.append(kinds.index(Kind.OK))
    assert max(refusals) >= 2
    assert w.limit_s("", items, {}) == pytest.approx(max(refusals) * 3.0 + 0.1)


def test_the_limit_needs_only_the_servers_model_not_aiohttp():
    code = (
        "import sys\n"
        "from orchbench.types import RunSpec\n"
        "from orchbench.workloads.scoring import ScoringWorkload\n"
        "w = ScoringWorkload(RunSpec(strategy='sequential', workload='scoring'), None)\n"
        "assert w.limit_s('', ['a line', 'another'], {}) > 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'"
        " or m.startswith('orchbench.workloads.scoring.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "aiohttp" not in out, out
    assert "orchbench.workloads.scoring.model" in out and "scoring.app" not in out and "scoring.server" not in out


def test_limit_is_unknown_without_latency_or_for_an_external_server():
    assert workload(scenario="none").limit_s("", ["a", "b"], {}) is None
    assert workload(options={"url": "http://127.0.0.1:9"}).limit_s("", ["a"], {}) is None


def test_latency_scale_scales_the_embedded_server():
    base = workload(scenario="default").server_config()
    scaled = workload(scenario="default", latency_scale=0.5).server_config()
    assert scaled.latency_median == base.latency_median * 0.5 and scaled.capacity == base.capacity


# -- whole runs by hand (the harness is not needed to check the workload's side) --------------------------------------


def run_threads(w: ScoringWorkload, items: list[str], workers: int = 16) -> list[int]:
    def one(line: str) -> int:
        while True:
            try:
                return w.map_item(line)
            except TransientError as exc:
                time.sleep(exc.retry_after or 0.01)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, items))


def run_asyncio(w: ScoringWorkload, items: list[str], concurrency: int = 32) -> list[int]:
    async def one(line: str, gate: asyncio.Semaphore) -> int:
        async with gate:
            while True:
                try:
                    return await w.amap_item(line)
                except TransientError as exc:
                    await asyncio.sleep(exc.retry_after or 0.01)

    async def main() -> list[int]:
        gate = asyncio.Semaphore(concurrency)
        return await asyncio.gather(*(one(line, gate) for line in items))

    return asyncio.run(main())


def test_embedded_server_serves_a_whole_run_and_is_stopped():
    w = workload(case="small", scenario="none")
    raw = w.load_input()
    extra = w.start()
    try:
        assert extra == {"url": extra["url"]} and extra["url"].startswith("http://127.0.0.1:")
        pid = w.service_pids()[0]
        assert pid is not None and psutil.Process(pid).is_running()
        items = w.prepare(raw, None)
        unique = list(dict.fromkeys(items))
        by_threads = run_threads(w, unique)
        by_asyncio = run_asyncio(w, unique)
        assert by_threads == by_asyncio
        values = dict(zip(unique, by_threads, strict=True))
        assert w.reduce([values[line] for line in items]) == w.reference(raw)
        stats = w.stats()
        sent = sum(1 for line in unique if not is_blank(line))
        assert stats["requests"] == stats["served"] == 2 * sent  # blank lines are never sent
        assert "config" not in stats
    finally:
        w.stop()
    assert gone(pid)
    assert w.stats()["requests"] == 2 * sent  # the last figures survive the server


def test_a_worker_reaches_the_server_the_run_started_through_its_spec():
    parent = workload(case="small", scenario="none")
    extra = parent.start()
    try:
        worker = workload(case="small", scenario="none", started=extra)
        assert worker.url == parent.url and not worker.external
        assert worker.map_item("hello") == score_line("hello")
        assert worker.limit_s("", ["hello"], {}) is None  # none: no latency, no bound
    finally:
        parent.stop()


def test_faulty_default_scenario_run_is_correct_when_retries_honour_retry_after():
    w = workload(case="1k", scenario="default", seed=5, options={"capacity": 8})
    raw = w.load_input()
    w.start()
    try:
        items = w.prepare(raw, None)
        unique = list(dict.fromkeys(items))
        values = dict(zip(unique, run_threads(w, unique, workers=32), strict=True))
        assert w.reduce([values[line] for line in items]) == w.reference(raw)
        stats = w.stats()
        assert stats["refused"] > 0  # 32 threads against 8 slots
        assert stats["early_retries"] == 0
        assert stats["dropped"] + stats["malformed"] + stats["by_status"].get("500", 0) > 0
        limit = w.limit_s(raw, unique, {})
        assert limit is not None and math.isfinite(limit) and limit > 0
    finally:
        w.stop()


def test_an_unreachable_external_server_is_a_usage_error():
    with pytest.raises(UsageError, match="unreachable"):
        workload(options={"url": "http://127.0.0.1:9"}).start()


def test_the_servers_cpu_over_the_window_is_read_from_the_kernel_and_makes_the_cpu_floor():
    result = run_here("asyncio", workload="scoring", case="1k", scenario="default")
    assert result.ok and result.correct
    stats = result.workload_stats
    # the kernel's clock of the server over the window, within the server's own account of its run (read just
    # before the window opened and after it closed)
    assert 0 < result.service_cpu_s <= stats["cpu_s"] - stats["cpu_s_at_start"]
    assert result.cores and result.cpu_s
    assert result.cpu_floor_s == pytest.approx((result.cpu_s + result.service_cpu_s) / result.cores)
    assert result.cpu_efficiency == pytest.approx(result.cpu_floor_s / result.wall_s)
