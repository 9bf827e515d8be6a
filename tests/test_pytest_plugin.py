"""The pytest plugin: the ``orchbench`` fixture in a test session of its own (pytester, in a subprocess: numpy,
which a comparison imports, cannot be imported twice in one process, as an in-process session's clean-up would
make the next test do), installed by the ``pytest11`` entry point alone."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PIPELINE = """
import orchbench

def words(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split()

@orchbench.workload("{name}", items=words, reduce=sum, reference=lambda items: {reference})
def measure(word):
    return len(word)
"""

INPUT = "alpha beta gamma delta\n"


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".txt", words=INPUT)
    pytester.makepyfile(
        pipe_right=PIPELINE.format(name="word-lengths", reference="sum(map(len, items))"),
        pipe_wrong=PIPELINE.format(name="word-lengths-wrong", reference="sum(map(len, items)) + 1"),
    )
    return pytester


def test_the_fixture_compares_and_saves_each_comparison(session: pytest.Pytester, tmp_path):
    session.makepyfile(
        test_right="""
        from pathlib import Path
        import pipe_right

        def test_it(orchbench):
            comparison = orchbench.compare(pipe_right.measure, ["sequential", "threads"], iterations=1, warmup=0,
                                           input=Path(__file__).with_name("words.txt"))
            assert sorted(comparison.correct) == ["sequential", "threads"]
            assert comparison.to_dict()["settings"]["workload"] == "word-lengths"
        """
    )
    saved = tmp_path / "saved"
    result = session.runpytest_subprocess("-p", "no:randomly", "--orchbench-save", str(saved))
    result.assert_outcomes(passed=1)
    [file] = saved.iterdir()
    assert file.name == "test_right.py-test_it.json"
    from orchbench.results.document import load

    document = load(file)
    assert {r["label"] for r in document["runs"]} == {"sequential", "threads"}


def test_a_wrong_output_fails_the_test_with_the_first_error(session: pytest.Pytester):
    session.makepyfile(
        test_wrong="""
        from pathlib import Path
        import pipe_wrong

        def test_it(orchbench):
            orchbench.compare(pipe_wrong.measure, ["sequential"], iterations=1, warmup=0,
                              input=Path(__file__).with_name("words.txt"))
        """
    )
    result = session.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*orchbench: sequential: wrong output against the reference*"])


def test_a_bad_option_fails_with_one_line(session: pytest.Pytester):
    session.makepyfile(
        test_bad="""
        def test_it(orchbench):
            orchbench.run("sequential", "word-lengths", casee="x")
        """
    )
    result = session.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*orchbench: unknown option 'casee'*"])
    assert "Traceback" not in result.stdout.str()


def test_strategies_that_need_ray_are_left_out_by_option_or_marker(session: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("ORCHBENCH_PLUGINS", "orchbench-ray")  # the suite loads no plugin distribution by default
    session.makepyfile(
        test_ray="""
        from pathlib import Path
        import pytest
        import pipe_right

        WORDS = Path(__file__).with_name("words.txt")

        @pytest.mark.orchbench_skip_ray
        def test_marked(orchbench):
            comparison = orchbench.compare(pipe_right.measure, ["ray", "sequential"], iterations=1, warmup=0,
                                           input=WORDS)
            assert [row.strategy for row in comparison.rows] == ["sequential"]

        def test_only_ray(orchbench):
            orchbench.compare(pipe_right.measure, ["ray"], iterations=1, warmup=0, input=WORDS)
        """
    )
    result = session.runpytest_subprocess("-p", "no:randomly", "-k", "marked")
    result.assert_outcomes(passed=1, deselected=1)
    result = session.runpytest_subprocess("-p", "no:randomly", "--orchbench-skip-ray", "-rs", "-k", "only_ray")
    result.assert_outcomes(skipped=1, deselected=1)
    result.stdout.fnmatch_lines(["*every strategy named needs Ray (ray)*"])


def test_the_plugin_is_registered_by_its_entry_point():
    from importlib.metadata import entry_points

    [entry] = [ep for ep in entry_points(group="pytest11") if ep.value == "orchbench.pytest_plugin"]
    assert entry.name == "orchbench"


def test_a_session_that_uses_no_fixture_imports_nothing_heavy(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_it():
            assert "orchbench.pytest_plugin" in sys.modules  # loaded by its entry point
            heavy = ("orchbench.python_api", "orchbench.harness.isolate", "orchbench.cli.common", "scipy")
            assert [m for m in heavy if m in sys.modules] == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
