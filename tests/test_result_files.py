"""Results files, baselines and references are input like any other: each is checked against its schema as it is
loaded, and one that does not fit is refused with one line naming the file, the field and the value (exit 2) —
never a traceback, never a figure shown from bad data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchbench.harness.planner import plan
from orchbench.results.document import make_document
from orchbench.types import RunResult, RunSpec
from tests.cli_here import block_runs, cli_here, examples

PROPERTY = examples(80)


def document(runs: list[dict] | None = None) -> dict:
    """A comparison of sequential and threads, two rounds, whose run records are ``runs`` when given."""
    order = plan(["sequential", "threads"], iterations=2, warmup=0)
    results = []
    for n, slot in enumerate(order):
        spec = RunSpec(strategy=slot.strategy, case="small", scenario="none").to_dict()
        result = RunResult(
            spec=spec, label=slot.strategy, items=3, unique_items=3, succeeded=3, complete=True, correct=True
        )
        result.wall_s = 1.0 + n / 10
        results.append((slot, result))
    settings_ = {"workload": "anagrams", "case": "small", "iterations": 2, "warmup": 0, "unit": "words"}
    doc = make_document(settings_, order, results, env={"cpu_count": 2}, created=datetime(2025, 1, 1, tzinfo=UTC))
    for record, changes in zip(doc["runs"], runs or [], strict=False):
        record.update(changes)
    return doc


def refused(ran, *fragments: str) -> str:
    assert ran.code == 2, (ran.code, ran.out, ran.err)
    assert "Traceback" not in ran.err and "--debug" not in ran.err, ran.err
    assert ran.out == "", ran.out  # nothing shown from the file
    lines = ran.lines()
    assert len(lines) == 1 and lines[0].startswith("orchbench: error: "), ran.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write(tmp_path, doc, name="r.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


# --- the cases found by trying bad input ------------------------------------------------------------------------


def test_a_negative_item_count_is_refused_not_reported(tmp_path):
    """It was shown as a negative success figure and named a winner."""
    path = write(tmp_path, document([{"items": -5}]))
    refused(cli_here("report", path), path, "runs[0].items", "-5", "a whole number ≥ 0")


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"succeeded": 7}, ["runs[0].succeeded is 7", "at most its items (3)"]),
        ({"succeeded": 2, "failed": 2}, ["runs[0].succeeded + failed is 4"]),
        ({"wall_s": -1.0}, ["runs[0].wall_s is -1.0", "finite number ≥ 0"]),
        ({"wall_s": "fast"}, ['runs[0].wall_s is "fast"']),
        ({"peak_rss": 1.5}, ["runs[0].peak_rss is 1.5", "whole number"]),
        ({"cores": 0}, ["runs[0].cores is 0", "≥ 1"]),
        ({"items": True}, ["runs[0].items is true"]),
        ({"complete": "yes"}, ["runs[0].complete"]),
        ({"spec": {"strategy": "sequential", "fault_rate": 3}}, ["runs[0].spec.fault_rate is 3", "from 0 to 1"]),
        ({"measure_notes": [1]}, ["runs[0].measure_notes"]),
    ],
)
def test_a_field_out_of_its_schema_is_refused(tmp_path, changes, fragments):
    path = write(tmp_path, document([changes]))
    refused(cli_here("report", path, "--format", "csv"), path, *fragments)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(tmp_path, constant):
    text = json.dumps(document()).replace('"wall_s": 1.0', f'"wall_s": {constant}', 1)
    assert constant in text
    refused(cli_here("report", write(tmp_path, text)), "not JSON", constant)


@pytest.mark.adversarial("answers that fail or pass wrongly")
def test_a_deeply_nested_results_file_is_one_line(tmp_path):
    deep = document()
    deep["settings"]["agreement"] = json.loads("[" * 500 + "]" * 500)
    refused(cli_here("report", write(tmp_path, deep)), "nested too deeply (more than 64 levels)")
    refused(
        cli_here("report", write(tmp_path, "[" * 100_000 + "]" * 100_000, "deeper.json")),
        "nested too deeply (more than 64 levels)",
    )


# --- baselines and references: refused before any run ------------------------------------------------------------


def test_a_baseline_out_of_its_schema_is_refused_before_the_comparison(tmp_path, no_runs):
    path = write(tmp_path, document([{}, {"hedges": 1, "hedges_won": 2}]), "base.json")
    refused(cli_here("compare", "-s", "sequential", "-t", "small", "--against", path), path, "runs[1].hedges_won")


def reference_file(tmp_path, **changes) -> str:
    """A real reference of anagrams' small case, recorded by `reference record`, changed as asked."""
    recorded = tmp_path / "ref.json"
    ran = cli_here("reference", "record", "-w", "anagrams", "-t", "small", "--scenario", "none", "-o", str(recorded))
    assert ran.code == 0, ran.err
    doc = json.loads(recorded.read_text())
    doc.update(changes)
    recorded.write_text(json.dumps(doc))
    return str(recorded)


@pytest.mark.adversarial("answers that fail or pass wrongly")
def test_a_reference_whose_output_is_null_is_refused(tmp_path, monkeypatch):
    """It was silently ignored: the run was reported unverified, exit 0."""
    path = reference_file(tmp_path, output=None)
    block_runs(monkeypatch)
    refused(cli_here("run", "sequential", "-t", "small", "--reference", path), path, "'output' is null")
    refused(cli_here("compare", "-s", "sequential", "-t", "small", "--reference", path), "'output' is null")


@pytest.mark.adversarial("answers that fail or pass wrongly")
def test_a_deeply_nested_reference_is_refused_with_one_line(tmp_path, monkeypatch):
    """It crashed with RecursionError (exit 1)."""
    path = reference_file(tmp_path)
    block_runs(monkeypatch)
    doc = json.loads(open(path).read())
    (tmp_path / "deep.json").write_text(json.dumps(doc)[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(cli_here("run", "sequential", "-t", "small", "--reference", str(tmp_path / "deep.json")), "nested")
    doc["output"] = json.loads("[" * 200 + "]" * 200)
    (tmp_path / "deep2.json").write_text(json.dumps(doc))
    refused(cli_here("run", "sequential", "-t", "small", "--reference", str(tmp_path / "deep2.json")), "64 levels")


def test_a_valid_reference_still_verifies(tmp_path):
    path = reference_file(tmp_path)
    ran = cli_here("run", "sequential", "-t", "small", "--scenario", "none", "--reference", path, "--json")
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["correct"] is True


# --- the property: generated result records, valid and invalid ---------------------------------------------------

COUNTS = ("items", "unique_items", "succeeded", "failed", "attempts", "retries", "hedges", "hedges_won", "give_ups")
TIMES = ("wall_s", "startup_s", "prepare_s", "elapsed_s", "cpu_s", "latency_p50_s", "latency_p99_s", "limit_s")
SIZES = ("peak_rss", "base_rss", "peak_uss", "end_uss")


@st.composite
def valid_run(draw) -> dict:
    items = draw(st.integers(0, 10**6))
    succeeded = draw(st.integers(0, items))
    failed = draw(st.integers(0, items - succeeded))
    attempts = draw(st.integers(0, 10**7))
    hedges = draw(st.integers(0, attempts))
    record = {
        "items": items,
        "unique_items": draw(st.integers(0, items)),
        "succeeded": succeeded,
        "failed": failed,
        "complete": failed == 0 and draw(st.booleans()),
        "attempts": attempts,
        "retries": draw(st.integers(0, attempts)),
        "hedges": hedges,
        "hedges_won": draw(st.integers(0, hedges)),
        "give_ups": draw(st.integers(0, 10**6)),
        "cores": draw(st.none() | st.integers(1, 4096)),
    }
    finite = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
    for name in TIMES:
        record[name] = draw(finite) if name in ("wall_s", "startup_s", "prepare_s") else draw(st.none() | finite)
    for name in SIZES:
        record[name] = draw(st.none() | st.integers(0, 2**50))
    return record


INVALID = {
    "count": st.one_of(st.integers(max_value=-1), st.floats(0.5, 10.5).filter(lambda x: not x.is_integer())),
    "amount": st.one_of(st.floats(max_value=-1e-9, allow_infinity=False), st.just("1.0")),
    "flag": st.sampled_from(["true", 1, 0, "no"]),
}


@st.composite
def invalid_run(draw) -> tuple[dict, str]:
    record = draw(valid_run())
    kind = draw(st.sampled_from(["count", "amount", "flag", "over"]))
    if kind == "over":  # successes beyond the items
        record["succeeded"] = record["items"] + draw(st.integers(1, 10))
        return record, "runs[0].succeeded"
    name = draw(st.sampled_from({"count": COUNTS + SIZES, "amount": TIMES, "flag": ("complete",)}[kind]))
    record[name] = draw(INVALID[kind])
    return record, f"runs[0].{name}"


@PROPERTY
@given(valid_run())
def test_every_valid_results_file_is_reported(tmp_path, record):
    path = write(tmp_path, document([record]))
    ran = cli_here("report", path, "--format", "csv")
    assert ran.code == 0 and "sequential" in ran.out, ran.err


@PROPERTY
@given(invalid_run(), st.sampled_from(["report", "against"]))
def test_every_invalid_results_file_is_refused_with_one_line(tmp_path, no_runs, drawn, how):
    record, field = drawn
    path = write(tmp_path, document([record]))
    if how == "report":
        ran = cli_here("report", path, "--format", "csv")
    else:
        ran = cli_here("compare", "-s", "sequential", "-t", "small", "--against", path)
    refused(ran, path, field)


def nesting(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    return 0


TRICKY_TEXT = st.text(st.sampled_from('ab"\\[]{}:,\n\u00e9'), max_size=8)
NESTED = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
    max_leaves=12,
)


@PROPERTY
@given(NESTED, st.integers(0, 6), st.booleans())
def test_the_depth_bound_counts_levels_as_the_parser_does(value, limit, ascii_only):
    """Brackets inside strings (escaped quotes too) never count; the bound is exact."""
    from orchbench.harness.filecheck import too_deep

    assert too_deep(json.dumps(value, ensure_ascii=ascii_only), limit) == (nesting(value) > limit)
