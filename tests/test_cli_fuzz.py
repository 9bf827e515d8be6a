"""The command line fuzzed with hypothesis: random option values for run, compare, profile, sweep, list and report.

Every case must end in exit 0 with a correct result, or in status 2 with exactly one line on stderr that is a
deliberate message (``orchbench: error: …``, never the catch-all "run with --debug for the traceback") and no
traceback. It runs in this process, so it is fast; the measured runs themselves are not started: where the
options pass every check the run would start, and the test checks the specs it would have run with instead
(finite overrides within their ranges) — the real runs are covered by the rest of the suite.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from orchbench.types import RunSpec
from tests.cli_here import WouldRun, cli_here, examples

FUZZ = examples(150)


# --- values ---------------------------------------------------------------------------------------------------

SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/\\"), max_size=12)
ODD = st.sampled_from(
    [
        "",
        " ",
        "-",
        "--",
        "=",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e309",
        "-0",
        "0x10",
        "1_000",
        "ünïcødé",
        "🙂",
        "None",
        "true",
    ]
)
NUMBERS = st.one_of(
    st.integers(-10, 10).map(str),
    st.sampled_from(["10" * 12, "-" + "9" * 30, "2**64", "1e3"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    ODD,
)
RATES = st.one_of(st.floats(-0.5, 1.5).map(repr), NUMBERS)
NAMES = {
    "strategy": ["sequential", "threads", "asyncio", "processes", "hybrid", "naive", "sequentail", "ray"],
    "workload": ["anagrams", "scoring", "anagram", "nope"],
    "case": ["small", "medium", "large", "1k", "10k", "larg", "original", "seed"],
    "scenario": ["none", "fast", "original", "seed", "default", "cpu", "sed"],
    "retry": ["exponential", "none", "fixed", "exponentail"],
}


def name(kind: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NAMES[kind]), ODD, SAFE_TEXT)


SETS = st.one_of(
    st.sampled_from(
        [
            "concurrency=4",
            "workers=0",
            "retry.max_attempts=0",
            "retry.max_attempts=3",
            "retry.base=nan",
            "retry.base=inf",
            "http_timeout=-1",
            "http_timeout=nan",
            "workload.capacity=-3",
            "novalue",
            "=3",
            "strategy.=1",
            "bogus.key=1",
            "concurrency=",
            "concurrency=1e400",
            "wrokers=3",
            "a=b=c",
        ]
    ),
    st.builds(lambda k, v: f"{k}={v}", SAFE_TEXT, NUMBERS),
)

COMMON = {
    "--workload": name("workload"),
    "--test-case": name("case"),
    "--scenario": name("scenario"),
    "--seed": NUMBERS,
    "--fault-rate": RATES,
    "--hang-rate": RATES,
    "--crash-rate": RATES,
    "--latency-scale": NUMBERS,
    "--cpu-ms": NUMBERS,
    "--retry": name("retry"),
    "--set": SETS,
    "--input": st.sampled_from(["-", ".", "missing.txt", ""]),
    "--url": st.sampled_from(["http://127.0.0.1:9", "ftp://x", "", "http://", "nope"]),
}
FLAGS = ["--no-cache", "--no-memo"]
COMPARE = {
    "--iterations": NUMBERS,
    "--warmup": NUMBERS,
    "--baseline-strategy": name("strategy"),
    "--format": st.sampled_from(["table", "markdown", "csv", "json", "yaml", ""]),
    "--fail-above": st.one_of(st.sampled_from(["10%", "0.1", "nan%", "-5%", "inf", "1", "lots", ""]), NUMBERS),
    "--against": st.sampled_from(["missing.json", "."]),
    "--output": st.sampled_from(["out.json", "x/y.json"]),
}
PROFILE = {"--top": NUMBERS, "--out": st.sampled_from(["prof", "a/b"])}
SWEEP = {
    "--over": st.one_of(
        st.sampled_from(
            ["concurrency=1,2", "fault_rate=0,nan", "seed=1,x", "=1", "x=", "latency_scale=-1", "workers=1,,2"]
        ),
        SAFE_TEXT,
    ),
    "--iterations": NUMBERS,
}


@st.composite
def options(draw, table: dict[str, st.SearchStrategy[str]], flags: list[str] = ()) -> list[str]:
    keys = draw(st.lists(st.sampled_from(sorted(table)), max_size=5))
    argv: list[str] = []
    for key in keys:
        argv += [key, draw(table[key])]
    argv += draw(st.lists(st.sampled_from(flags), max_size=2, unique=True)) if flags else []
    return argv


def strategies_arg() -> st.SearchStrategy[list[str]]:
    return st.one_of(
        st.just([]),
        st.lists(name("strategy"), min_size=1, max_size=3).map(lambda names: ["--strategies", *names]),
        name("strategy").map(lambda n: ["--strategies", f"{n},sequential"]),
    )


COMMANDS = st.one_of(
    st.tuples(st.just("run"), name("strategy").map(lambda n: [n]), options(COMMON, FLAGS + ["--json"])),
    st.tuples(st.just("compare"), strategies_arg(), options({**COMMON, **COMPARE}, FLAGS + ["--quiet", "--plot"])),
    st.tuples(st.just("profile"), strategies_arg(), options({**COMMON, **PROFILE}, FLAGS + ["--memory", "--json"])),
    st.tuples(
        st.just("sweep"),
        strategies_arg(),
        options(
            {
                **{k: COMMON[k] for k in ("--workload", "--test-case", "--scenario", "--seed", "--retry", "--set")},
                **SWEEP,
            },
            ["--quiet"],
        ),
    ),
    st.tuples(st.just("list"), st.just([]), st.lists(st.sampled_from(["--json", "--jsn", "-j"]), max_size=1)),
)


# --- the properties --------------------------------------------------------------------------------------------


def check_spec(spec: RunSpec) -> None:
    """A run the checks let through has overrides it can honour."""
    for value in (spec.fault_rate, spec.hang_rate, spec.crash_rate):
        assert value is None or 0.0 <= value <= 1.0, spec
    for value in (spec.latency_scale, spec.cpu_ms):
        assert value is None or (math.isfinite(value) and value >= 0), spec
    for options in (spec.retry_options, spec.strategy_options, spec.workload_options):
        json.dumps(options, allow_nan=False)  # plain, finite data: it travels to the run process as JSON


def check_ending(argv: list[str], ran) -> None:
    assert "Traceback" not in ran.err, (argv, ran.err)
    if ran.code == 0:
        return
    lines = ran.lines()
    assert ran.code == 2, (argv, ran.code, ran.err)
    assert len(lines) == 1 and lines[0].startswith("orchbench: error: "), (argv, ran.err)
    assert "--debug" not in lines[0], (argv, lines[0])  # an unforeseen exception, not a deliberate message


@FUZZ
@given(COMMANDS)
def test_random_options_end_in_a_result_or_one_clear_line(no_runs, command):
    name_, head, rest = command
    argv = [name_, *head, *rest]
    try:
        ran = cli_here(*argv, stdin=b"")
    except WouldRun as would:
        event("would run")
        check_spec(would.spec)
        return
    event(f"exit {ran.code}")
    check_ending(argv, ran)
    if ran.code == 0:
        assert name_ in ("list", "profile") or "--help" in argv, (argv, ran.err)
        if name_ == "list" and "--json" in argv:
            assert json.loads(ran.out)["items"]


# --- report: corrupt, truncated, foreign, empty and binary results files ---------------------------------------


def _document() -> dict:
    from orchbench.harness.planner import plan
    from orchbench.results.document import make_document
    from orchbench.types import RunResult

    order = plan(["sequential", "threads"], iterations=2, warmup=0)
    runs = []
    for n, slot in enumerate(order):
        spec = RunSpec(strategy=slot.strategy, case="small", scenario="none").to_dict()
        runs.append(
            (
                slot,
                RunResult(
                    spec=spec,
                    label=slot.strategy,
                    items=3,
                    unique_items=3,
                    succeeded=3,
                    complete=True,
                    correct=True,
                    wall_s=1.0 + n / 10,
                ),
            )
        )
    settings_ = {
        "workload": "anagrams",
        "case": "small",
        "scenario": "none",
        "iterations": 2,
        "warmup": 0,
        "baseline": "sequential",
        "unit": "words",
        "complete": True,
    }
    return make_document(
        settings_,
        order,
        runs,
        env={"cpu_model": "Test CPU", "cpu_count": 2},
        created=datetime(2025, 1, 31, 12, 0, tzinfo=UTC),
    )  # the same bytes every time


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_documents(draw) -> bytes:
    """A real comparison document with one part replaced, removed, cut short, or turned to other bytes."""
    document = _document()
    how = draw(st.sampled_from(["replace", "remove", "truncate", "bytes", "foreign"]))
    if how == "bytes":
        return draw(st.binary(max_size=64))
    if how == "foreign":
        return json.dumps(draw(JSON_VALUES)).encode()
    if how == "truncate":
        text = json.dumps(document).encode()
        return text[: draw(st.integers(0, len(text) - 1))]
    node, path = document, []
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        path.append((node, key))
        child = node[key]
        if not isinstance(child, (dict, list)) or draw(st.booleans()):
            break
        node = child
    if path:
        parent, key = path[-1]
        if how == "remove":
            del parent[key]
        else:
            parent[key] = draw(JSON_VALUES)
    return json.dumps(document).encode()


@settings(FUZZ, max_examples=100)
@given(mutated_documents(), st.sampled_from(["table", "markdown", "csv", "json"]))
def test_report_of_a_damaged_results_file(tmp_path, content, fmt):
    path = tmp_path / "results.json"
    path.write_bytes(content)
    ran = cli_here("report", str(path), "--format", fmt)
    check_ending(["report", fmt], ran)


@pytest.mark.parametrize(("protocol", "fragment"), [(0, "not JSON"), (5, "not a UTF-8 text file")])
def test_report_never_unpickles(tmp_path, protocol, fragment):
    """A pickled document (protocol 0 is ASCII text) is refused: results are read as JSON, never unpickled."""
    import pickle

    path = tmp_path / "results.pkl"
    path.write_bytes(pickle.dumps(_document(), protocol=protocol))
    ran = cli_here("report", str(path))
    check_ending(["report"], ran)
    assert ran.code == 2 and fragment in ran.err, ran.err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "not JSON"),
        (b"\x00\x01\x02\xff", "not a UTF-8"),
        (b'{"schema": "orchbench.comparison/1", "runs": [', "not JSON"),
        (b'{"name": "some other tool", "results": []}', "not an orchbench comparison"),
    ],
)
def test_report_of_empty_binary_truncated_or_foreign_files(tmp_path, content, fragment):
    path = tmp_path / "r.json"
    path.write_bytes(content)
    ran = cli_here("report", str(path))
    check_ending(["report"], ran)
    assert ran.code == 2 and fragment in ran.err


def test_a_truncated_real_results_file(tmp_path):
    from orchbench.results.document import save

    whole = save(tmp_path / "whole.json", _document())
    ok = cli_here("report", str(whole), "--format", "csv")
    assert ok.code == 0 and "sequential" in ok.out and "threads" in ok.out, ok.err
    cut = tmp_path / "cut.json"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    ran = cli_here("report", str(cut))
    check_ending(["report"], ran)
    assert ran.code == 2 and "not JSON" in ran.err


def test_unicode_and_control_characters_in_names_stay_on_one_line(no_runs):
    for weird in ["a\nb", "tab\there", "\x1b[31mred", "ünï", "🙂"]:
        ran = cli_here("run", weird)
        check_ending(["run", weird], ran)
        assert ran.code == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "sequential", "--latency-scale", "nan"], "--latency-scale nan is not a finite number"),
        (["run", "sequential", "--cpu-ms", "inf"], "--cpu-ms inf is not a finite number"),
        (["run", "sequential", "--fault-rate", "nan"], "--fault-rate nan is not a finite number"),
        (["compare", "-s", "sequential", "threads", "--iterations", "1" + "0" * 12], "runs planned"),
        (["run", "sequential", "-w", "scoring", "--set", "http_timeout=nan"], "is not a finite number"),
        (["run", "sequential", "--set", "retry.base=inf"], "is not a finite number"),
    ],
)
def test_values_that_would_hang_or_exhaust_memory_are_refused(no_runs, args, fragment):
    ran = cli_here(*args)
    check_ending(args, ran)
    assert ran.code == 2 and fragment in ran.err, ran.err


def test_every_spelling_of_the_strategies_option_takes_several_values():
    from orchbench.cli.app import expand_multi_values

    for flag in ("--strategies", "--strategy", "-s"):
        assert expand_multi_values(["compare", flag, "asyncio", "processes", "-n", "3"]) == [
            "compare",
            flag,
            "asyncio",
            flag,
            "processes",
            "-n",
            "3",
        ]
