"""The anagram pipeline end to end in one process: correct under faults, honest when it cannot be."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchbench.errors import UsageError
from orchbench.harness.faults import unit_draw
from orchbench.workloads.anagrams.dictionary import cached_words
from orchbench.workloads.anagrams.reference import anagram_counts
from tests.helpers import NO_WAIT, run_here, share_dictionary_index


@pytest.fixture(autouse=True)
def _shared_index(monkeypatch):
    share_dictionary_index(monkeypatch)


WORDS = sorted(cached_words())[::997]  # a spread of real dictionary words
CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")  # encodable, not binary
texts = (
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(CHARS, min_size=1, max_size=8)), min_size=1, max_size=25)
    .map(" ".join)
    .filter(lambda t: t.split() and any(c.isalpha() or c.isdigit() for c in t))
)  # filter_input's rule:
# "¼" is alphanumeric to str.isalnum() but neither a letter nor a digit, so a text of it alone has no words


def _input(tmp_path, text: str) -> str:
    path = tmp_path / "input.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, seed=st.integers(0, 2**31), rate=st.floats(0.0, 0.5), memo=st.booleans())
def test_output_equals_reference_under_faults(tmp_path, text, seed, rate, memo):
    result = run_here(
        input_path=_input(tmp_path, text),
        seed=seed,
        fault_rate=rate,
        memo=memo,
        retry_options={"max_attempts": 60, **NO_WAIT},
    )
    assert result.error is None
    assert result.complete and result.correct
    assert result.succeeded == result.items > 0
    assert result.output == anagram_counts(text, cached_words())


def test_same_seed_same_faults_other_seed_other_faults():
    runs = [run_here(case="large", seed=s, fault_rate=0.3, retry_options=NO_WAIT) for s in (7, 7, 8)]
    assert runs[0].attempts == runs[1].attempts
    assert runs[0].failures == runs[1].failures
    assert runs[0].attempts != runs[2].attempts
    assert all(r.correct for r in runs)


def test_no_retry_at_a_high_fault_rate_reports_failures_honestly():
    seed = next(s for s in range(100) if all(unit_draw(s, t, 0, 1) >= 0.6 for t in ("filter_input", "get_words")))
    result = run_here(case="large", retry="none", fault_rate=0.6, seed=seed, memo=False)
    assert not result.complete and result.correct is False
    assert result.output is None  # never a total over missing values
    assert result.error is None  # this seed gets through both prepare stages
    assert 0 < result.failed < result.items and result.success_rate < 1.0
    assert result.failures and all("InjectedFault" in f["error"] and f["attempts"] == 1 for f in result.failures)
    assert result.give_ups == result.failed and len(result.failures) == result.failed  # memo off: one item per position


def test_a_failing_prepare_stage_fails_the_whole_run_explicitly():
    # fault rate 1: filter_input never succeeds, so no word can be produced
    result = run_here(case="small", fault_rate=1.0, retry_options={"max_attempts": 3, **NO_WAIT})
    assert result.error and result.error.startswith("prepare failed: filter_input")
    assert result.items == 0 and result.success_rate == 0.0 and not result.ok


def test_duplicates_run_once_with_memo_and_every_time_without():
    text_result = run_here(case="10k")
    assert text_result.unique_items < text_result.items
    assert text_result.attempts == text_result.unique_items + 2  # one attempt each, plus the two prepare stages
    plain = run_here(case="medium", memo=False)
    assert plain.unique_items == plain.items and plain.correct


def test_hang_is_cut_by_the_timeout_and_retried():
    result = run_here(
        case="medium", hang_rate=0.3, seed=1, retry_options={"timeout": 0.05, "max_attempts": 30, **NO_WAIT}
    )
    assert result.correct and result.retries > 0


def test_hangs_without_a_timeout_are_refused():
    with pytest.raises(UsageError, match="timeout"):
        run_here(case="small", retry="none", hang_rate=0.1)


def test_the_limit_is_the_critical_path_of_the_deterministic_faults():
    result = run_here(case="large", scenario="fast", latency_scale=0.1, seed=5, retry_options=NO_WAIT)
    assert result.correct
    # fast×0.1: 1 ms per prepare attempt, 0.25 ms per find_anagrams attempt; at least one attempt each
    assert result.limit_s >= 0.001 + 0.001 + 0.00025
    # not a speed check: the limit is a lower bound, the run sleeps through at least those latencies
    assert result.wall_s >= result.limit_s
