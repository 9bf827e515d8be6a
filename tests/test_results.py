from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchbench.errors import UsageError
from orchbench.harness.environment import PACKAGES, environment
from orchbench.harness.planner import plan
from orchbench.results import document as results
from orchbench.results.document import SCHEMA, default_path, load, make_document, measured_runs, save
from orchbench.support.atomic import check_target
from orchbench.types import RunResult, RunSpec


def _result(strategy: str, wall: float, **fields) -> RunResult:
    spec = RunSpec(strategy=strategy, case="small", scenario="fast").to_dict()
    base = dict(items=10, unique_items=10, succeeded=10, complete=True, correct=True, wall_s=wall)
    return RunResult(spec=spec, **(base | fields))


def _document(walls: dict[str, list[float]], warmup: int = 1) -> dict:
    strategies = list(walls)
    order = plan(strategies, iterations=len(next(iter(walls.values()))), warmup=warmup)
    pairs = [
        (slot, _result(slot.strategy, 9.0 if slot.warmup else walls[slot.strategy][slot.round - 1])) for slot in order
    ]
    settings = {
        "workload": "anagrams",
        "case": "small",
        "scenario": "fast",
        "iterations": 3,
        "warmup": warmup,
        "baseline": strategies[0],
    }
    env = {"cpu_model": "Test CPU", "cpu_count": 4}
    return make_document(settings, order, pairs, env=env, created=datetime(2025, 1, 31, 12, 0, tzinfo=UTC))


# --- environment ---------------------------------------------------------------------------------------------


def test_environment_describes_machine_software_and_plugins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a git repository
    env = environment(
        plugins=[
            {"name": "ray", "distribution": "orchbench-ray", "version": "0.1"},
            SimpleNamespace(name="threads", distribution="orchbench", version="1.0"),
        ]
    )
    for key in ("python", "implementation", "os", "platform", "cpu_model", "cpu_count", "memory_total"):
        assert key in env
    assert env["cpu_count"] == os.cpu_count()
    assert set(PACKAGES) <= set(env["packages"])
    assert env["packages"]["numpy"]  # installed here
    assert env["plugins"] == [
        {"name": "ray", "distribution": "orchbench-ray", "version": "0.1"},
        {"name": "threads", "distribution": "orchbench", "version": "1.0"},
    ]
    assert env["git_commit"] is None
    json.dumps(env)  # plain data


def test_environment_records_the_git_commit_inside_a_repository(tmp_path, monkeypatch):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True)
    monkeypatch.chdir(tmp_path)
    assert environment()["git_commit"] == head.stdout.strip()


# --- document, save, load ------------------------------------------------------------------------------------


def test_document_shape_and_round_trip(tmp_path):
    doc = _document({"a": [1.0, 1.1, 1.2], "b": [2.0, 2.1, 2.2]})
    assert doc["schema"] == SCHEMA and doc["created"] == "2025-01-31T12:00:00Z"
    assert doc["order"][0] == {"round": 1, "strategy": "a", "warmup": True}
    assert [(r["round"], r["warmup"], r["spec"]["strategy"]) for r in doc["runs"][:3]] == [
        (1, True, "a"),
        (1, True, "b"),
        (1, False, "a"),
    ]
    assert doc["runs"][2]["throughput"] == 10.0 and "output" not in doc["runs"][2]
    path = save(tmp_path / "deep" / "er" / "c.json", doc)
    assert load(path) == json.loads(json.dumps(doc))


def test_measured_runs_skip_warmups_and_keep_planned_order():
    doc = _document({"b": [2.0, 2.1, 2.2], "a": [1.0, 1.1, 1.2]})
    grouped = measured_runs(doc)
    assert list(grouped) == ["b", "a"]
    assert [r.wall_s for r in grouped["a"]] == [1.0, 1.1, 1.2]
    pooled = measured_runs([doc, doc])
    assert len(pooled["b"]) == 6


def test_non_finite_numbers_are_stored_as_null(tmp_path):
    doc = _document({"a": [1.0]})
    doc["settings"]["odd"] = float("nan")
    doc["settings"]["pair"] = (1, float("inf"))
    saved = load(save(tmp_path / "c.json", doc))
    assert saved["settings"]["odd"] is None and saved["settings"]["pair"] == [1, None]


def test_an_interrupted_serialisation_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = save(tmp_path / "c.json", _document({"a": [1.0]}))
    before = path.read_bytes()
    broken = _document({"a": [3.0, 3.1], "b": [4.0, 4.1]})
    broken["runs"].append({"not serialisable": object()})  # fails after the earlier runs were written

    partial: list[bytes] = []
    real_unlink = os.unlink

    def spying_unlink(name, *args, **kwargs):
        with open(name, "rb") as handle:
            partial.append(handle.read())
        real_unlink(name, *args, **kwargs)

    monkeypatch.setattr(results.os, "unlink", spying_unlink)
    with pytest.raises(TypeError):
        save(path, broken)
    assert partial and b'"wall_s": 3.0' in partial[0]  # the write had really started
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]  # no temp file left behind


@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_a_failure_before_the_rename_keeps_the_old_file(tmp_path, monkeypatch, error):
    path = save(tmp_path / "c.json", _document({"a": [1.0]}))
    before = path.read_bytes()

    def failing_fsync(fd):
        raise error

    monkeypatch.setattr(results.os, "fsync", failing_fsync)
    with pytest.raises(UsageError if isinstance(error, OSError) else KeyboardInterrupt):
        save(path, _document({"a": [5.0]}))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]


def test_saved_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = save(tmp_path / "c.json", _document({"a": [1.0]}))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_saving_into_an_unwritable_place_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write results"):
        save(blocker / "c.json", _document({"a": [1.0]}))


def _write(tmp_path, content: bytes | str):
    path = tmp_path / "input.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        (b"\xff\xfe\x00garbage", "not a UTF-8"),
        ('{"results": []}', "not an orchbench comparison"),
        ("[1, 2, 3]", "not an orchbench comparison"),
        ('{"schema": "orchbench.run/1"}', "not an orchbench comparison"),
        ('{"schema": "orchbench.comparison/3", "runs": []}', "written by a newer orchbench"),
        ('{"schema": "orchbench.comparison/0", "runs": []}', "unknown comparison schema"),
        ('{"schema": "orchbench.comparison/²", "runs": []}', "unknown comparison schema"),
        (
            '{"schema": "orchbench.comparison/1", "settings": {}, "order": [], "environment": {}, "runs": {}}',
            "malformed",
        ),
        (
            '{"schema": "orchbench.comparison/1", "settings": {}, "order": [], "environment": {}, '
            '"runs": [{"spec": {}, "wall_s": 1}]}',
            "names no strategy",
        ),
    ],
)
def test_load_refuses_with_one_clear_line(tmp_path, content, fragment):
    path = _write(tmp_path, content)
    with pytest.raises(UsageError, match=fragment) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message


def test_load_of_a_missing_file_or_a_directory(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load(tmp_path / "absent.json")
    with pytest.raises(UsageError, match="is a directory"):
        load(tmp_path)


def test_default_path_is_timestamped_and_never_reuses_a_name(tmp_path):
    moment = datetime(2025, 1, 31, 12, 0, 5, tzinfo=UTC)
    first = default_path(tmp_path / "results", "anagrams", now=moment)
    assert first == tmp_path / "results" / "compare-anagrams-20250131T120005Z.json"
    save(first, _document({"a": [1.0]}))
    assert default_path(tmp_path / "results", "anagrams", now=moment).name == "compare-anagrams-20250131T120005Z-2.json"
    assert default_path(tmp_path, "my/odd name", now=moment).name == "compare-my-odd-name-20250131T120005Z.json"


# --- names that cannot collide, the target checked first, a fallback when saving fails ---------------------


def _save_from_a_process(directory: str, moment: str) -> str:
    from orchbench.results import document as store

    when = datetime.fromisoformat(moment)
    return str(
        store.save(
            store.default_path(directory, "anagrams", now=when), _document({"sequential": [1.0]}), exclusive=True
        )
    )


def test_comparisons_saved_at_the_same_moment_keep_one_file_each(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    moment = "2025-01-31T12:00:05+00:00"  # every save names the same second
    with ProcessPoolExecutor(4) as pool:
        paths = list(pool.map(_save_from_a_process, [str(tmp_path)] * 8, [moment] * 8))
    assert len(set(paths)) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)
    assert all(load(p)["runs"] for p in paths)


def test_an_explicit_target_is_replaced_but_an_exclusive_one_never(tmp_path):
    target = tmp_path / "r.json"
    save(target, _document({"a": [1.0]}))
    assert save(target, _document({"b": [1.0]})) == target  # -o: the user's file is rewritten
    again = save(target, _document({"c": [1.0]}), exclusive=True)
    assert again.name == "r-2.json" and load(target)["runs"][0]["spec"]["strategy"] == "b"


@pytest.mark.parametrize("target", ["/dev/null", "directory", "parent-is-a-file"])
def test_a_target_that_cannot_take_results_is_refused_before_any_run(tmp_path, target):
    path = {"/dev/null": Path("/dev/null"), "directory": tmp_path, "parent-is-a-file": tmp_path / "file" / "r.json"}[
        target
    ]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="cannot write results to"):
        check_target(path)
    with pytest.raises(UsageError):
        save(path, _document({"a": [1.0]}))
    assert Path("/dev/null").is_char_device()  # never replaced by a regular file


def test_when_saving_fails_the_document_goes_to_a_named_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "file").write_text("x")
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    written, error = results.save_or_fallback(tmp_path / "file" / "r.json", _document({"a": [1.0]}))
    assert written is not None and written.parent == tmp_path / "tmp" and load(written)["runs"]
    assert error is not None and str(written) in str(error) and "cannot write results to" in str(error)
