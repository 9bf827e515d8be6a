"""``orchbench profile --memory``: real memray captures of real runs, worker processes included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("memray")

from orchbench.harness import profile  # noqa: E402
from orchbench.harness.environment import environment  # noqa: E402
from orchbench.harness.plugins import get_registry  # noqa: E402

ANAGRAM_CODE = ("build_index", "find_anagrams", "signature")
TASKS_PY = "orchbench/workloads/anagrams/tasks.py"


def orchbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # one hash seed for every run process: sets of words iterate in one order, so equal work allocates equally
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "orchbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def profile_json(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "profile"
    done = orchbench("profile", "--memory", "--scenario", "none", "--out", str(out), "--json", *args)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert json.loads((out / "summary.json").read_text()) == summary
    return summary


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orchbench: error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


# In the default run: one strategy whose items run in the process memray starts with, one whose items run in
# worker processes (captured through their own memray); the others alike are left to -m slow.
DEFAULT_RUN = ("sequential", "processes")


def _strategy_params() -> list:
    return [
        pytest.param(
            name,
            marks=[pytest.mark.ray] if "ray" in name else [] if name in DEFAULT_RUN else [pytest.mark.slow],
        )
        for name in get_registry().names("strategy")
    ]


@pytest.mark.parametrize("strategy", _strategy_params())
def test_profile_of_each_strategy_has_captures_flamegraphs_and_a_correct_run(tmp_path: Path, strategy: str) -> None:
    summary = profile_json(tmp_path, "--strategies", strategy, "--test-case", "medium")
    [entry] = summary["strategies"]
    out = tmp_path / "profile"
    assert entry["label"] == strategy and entry["ok"] and entry["correct"]  # profiling changed nothing
    assert entry["peak_rss"] > 0
    assert 0 < entry["peak_heap"] <= entry["allocated_bytes"] and entry["allocations"] > 0
    main, *workers = entry["processes"]
    assert main["role"] == "main" and main["capture"] == f"{strategy}.bin"
    assert all(w["role"] == "worker" and w["pid"] != main["pid"] for w in workers)
    pages = []
    for proc in entry["processes"]:
        assert "error" not in proc, proc
        assert (out / proc["capture"]).stat().st_size > 0
        pages.append((out / proc["flamegraphs"]["peak"]).read_text(encoding="utf-8"))
    # the process that did the work (the run's own, or a worker) shows the workload's functions
    assert any(name in page for page in pages for name in ANAGRAM_CODE)
    top = entry["top"]["peak"]
    assert any(site["function"] in ANAGRAM_CODE + ("<dictcomp>",) for site in top), top
    assert sum(e["peak_heap"] for e in entry["processes"]) == entry["peak_heap"]


@pytest.mark.slow  # ~1 min: memray traces a dictionary reloaded on every call
def test_reloading_the_dictionary_per_call_shows_in_what_is_allocated(tmp_path: Path) -> None:
    text = tmp_path / "three.txt"
    text.write_text("stone listen tabs\n")  # three words, three different anagram groups
    # --temporary records pymalloc's own allocations: every object counted, whichever arenas the OS gave back
    summary = profile_json(
        tmp_path, "--strategies", "sequential", "naive", "--input", str(text), "--top", "40", "--temporary"
    )
    cached, naive = summary["strategies"]
    assert (cached["label"], naive["label"]) == ("sequential", "naive")
    assert set(environment()) < set(summary["environment"]) and summary["environment"]["memray"]  # a results file's
    assert cached["ok"] and naive["ok"]

    def index_bytes(entry: dict) -> int:  # summed over tasks.py, where the index is built
        return sum(s["bytes"] for s in entry["top"]["allocated"] if s["site"].startswith(TASKS_PY))

    # the cache builds the index once; naive builds it once per distinct word: 3 times (measured 2.99×)
    assert index_bytes(cached) > 0
    assert index_bytes(naive) > 2 * index_bytes(cached)
    assert naive["allocated_bytes"] > cached["allocated_bytes"]


POOL_SCRIPT = textwrap.dedent("""
    import multiprocessing, os, sys
    from concurrent.futures import ProcessPoolExecutor
    from orchbench.harness import profile
    from orchbench.harness.task import task_for
    from orchbench.types import RunSpec

    SPEC = RunSpec("sequential", case="small", scenario="none").to_dict()

    def work(pair):
        assert task_for(SPEC).run(*pair).ok
        return os.getpid()

    if __name__ == "__main__":
        capture, method = sys.argv[1], sys.argv[2]
        with profile.tracking(capture):
            ctx = multiprocessing.get_context(method)
            with ProcessPoolExecutor(2, mp_context=ctx, initializer=task_for, initargs=(SPEC,)) as pool:
                pids = set(pool.map(work, enumerate(["stone", "listen", "tabs", "cat"])))
        print(" ".join(map(str, sorted(pids))))
""")


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_worker_processes_are_profiled_whatever_their_start_method(tmp_path: Path, method: str) -> None:
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    capture = tmp_path / "run.bin"
    done = subprocess.run(
        [sys.executable, str(script), str(capture), method],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != profile.SETTINGS_ENV},
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    busy = {int(pid) for pid in done.stdout.split()}
    workers = {int(p.suffix[1:]): p for p in tmp_path.glob("run.bin.*")}
    assert busy and busy <= set(workers)  # one capture per worker, written by follow_fork or by the hook
    options = profile.ProfileOptions()
    main_figures, main_views = profile.read_capture(capture, options)
    assert not any(site["function"] in ANAGRAM_CODE for site in main_views["allocated"].top(50))
    for pid in busy:
        figures, views = profile.read_capture(workers[pid], options)
        assert figures["pid"] == pid and figures["allocations"] > 0
        assert any(site["function"] == "build_index" for site in views["allocated"].top(50))


CAPTURE_SCRIPT = textwrap.dedent("""
    import sys
    import memray

    def hold():
        return bytearray(8 * 2**20)

    def churn():
        for _ in range(20):
            bytearray(2**20)

    with memray.Tracker(sys.argv[1], trace_python_allocators=True):
        kept = hold()
        churn()
""")


def test_reading_a_capture_finds_peak_leaked_and_temporary_sites(tmp_path: Path) -> None:
    script, capture = tmp_path / "alloc.py", tmp_path / "alloc.bin"
    script.write_text(CAPTURE_SCRIPT)
    subprocess.run([sys.executable, str(script), str(capture)], check=True)
    figures, views = profile.read_capture(capture, profile.ProfileOptions(leaks=True, temporary=True))
    assert figures["peak_heap"] >= 9 * 2**20  # the held 8 MiB and one 1 MiB temporary at a time
    assert figures["allocated_bytes"] >= 28 * 2**20
    assert views["peak"].top(1)[0]["function"] == "hold"
    assert views["leaked"].top(1)[0]["function"] == "hold"  # still held when tracking ended
    assert figures["leaked_bytes"] >= 8 * 2**20
    temporary = views["temporary"].top(1)[0]
    assert temporary["function"] == "churn" and temporary["allocations"] >= 20
    assert temporary["site"].endswith("alloc.py:10")


@pytest.mark.slow  # 30 s: memray without pymalloc; the views themselves are checked on a small script above
def test_leaks_and_temporary_add_views_and_flamegraphs(tmp_path: Path) -> None:
    summary = profile_json(tmp_path, "--strategies", "sequential", "--test-case", "small", "--leaks", "--temporary")
    [entry] = summary["strategies"]
    assert summary["options"]["python_allocators"] is True
    assert entry["ok"] and entry["leaked_bytes"] > 0 and entry["temporary_allocations"] > 0
    assert set(entry["top"]) == {"peak", "allocated", "leaked", "temporary"}
    assert set(entry["processes"][0]["flamegraphs"]) == {"peak", "leaks", "temporary"}
    for name in entry["processes"][0]["flamegraphs"].values():
        assert (tmp_path / "profile" / name).stat().st_size > 0


def test_the_table_names_strategy_sites_and_the_output_directory_and_fits_80_columns(tmp_path: Path) -> None:
    out = tmp_path / "profile"
    done = subprocess.run(
        [sys.executable, "-m", "orchbench", "profile", "--memory", "-s", "sequential", "-t", "small"]
        + ["--scenario", "none", "--out", str(out)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONHASHSEED": "0", "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    assert "sequential" in done.stdout and "correct" in done.stdout and "held at the peak" in done.stdout
    assert str(out) in done.stdout.replace("\n", "")
    assert max(map(len, done.stdout.splitlines())) <= 80
    summary = json.loads((out / "summary.json").read_text())
    tokens = {token for line in done.stdout.splitlines() for token in line.split()}
    for site in summary["strategies"][0]["top"]["peak"]:  # every site's function, file and line whole
        assert set(f"{site['function']} {site['site']}".split()) <= tokens, site


def test_the_reference_check_is_the_harness_s_and_the_workload_s_sites_come_first(tmp_path: Path) -> None:
    """The run process checks its output against a reference it computes: that memory is orchbench's, not the
    workload's, and is listed after the workload's own sites."""
    summary = profile_json(tmp_path, "--strategies", "sequential", "--test-case", "small", "--top", "8")
    top = summary["strategies"][0]["top"]["peak"]
    owners = [site["owner"] for site in top]
    assert owners[0] == "workload" and "harness: reference check" in owners
    assert owners == sorted(owners, key=lambda owner: owner != "workload")  # the workload's first
    checking = [site for site in top if site["owner"] == "harness: reference check"]
    assert any(site["site"].startswith("orchbench/workloads/anagrams/reference.py") for site in checking)
    own = [site for site in top if site["owner"] == "workload"]
    assert not any(site["site"].startswith("orchbench/workloads/anagrams/reference.py") for site in own)
    assert any(site["function"] in ANAGRAM_CODE for site in own)


def test_without_memory_one_line_error() -> None:
    assert "--memory" in one_line_error(orchbench("profile", "--strategies", "sequential"))


@pytest.mark.parametrize(
    "spelling",
    [
        ["--strategies", "sequential", "bogus"],
        ["--strategies", "sequential,bogus"],
        ["--strategies", "sequential", "--strategy", "bogus"],
    ],
)
def test_unknown_strategy_one_line_error(tmp_path: Path, spelling: list[str]) -> None:
    line = one_line_error(orchbench("profile", "--memory", *spelling, "--out", str(tmp_path / "p")))
    assert "unknown strategy 'bogus'" in line
    assert not (tmp_path / "p").exists()


def test_output_directory_with_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.bin").write_text("x")
    line = one_line_error(orchbench("profile", "--memory", "--strategies", "sequential", "--out", str(tmp_path)))
    assert "not an empty directory" in line


def test_memray_missing_is_one_line_error(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['memray'] = None; from orchbench.cli.app import main; "
        f"sys.exit(main(['profile', '--memory', '--strategies', 'sequential', '--out', {str(tmp_path / 'p')!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "needs memray" in one_line_error(done)
    assert not (tmp_path / "p").exists()


def test_cli_start_does_not_import_memray() -> None:
    code = (
        "import sys; from orchbench.cli.app import build_app; from orchbench.harness.plugins import get_registry; "
        "build_app(get_registry()); "
        "import orchbench.harness.profile; assert 'memray' not in sys.modules, 'memray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
