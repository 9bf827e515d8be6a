"""Every option value parsed once, by the option's declared type, before any work starts: ``--set``, ``sweep
--over``, the run options and ``[tool.orchbench]``. A value that fits is accepted (the run would start with it,
typed); one that does not is one line naming the option and the values it accepts, exit 2, and nothing runs.

The runs themselves are not started here (``no_runs``): where every check passes the test receives the spec the
run would have had. Real sweeps over one option of each type run at the end.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchbench.api import MAX_DURATION_S, Option
from orchbench.harness.plugins import get_registry
from orchbench.types import RUN_OPTIONS, RunOptions, RunSpec
from tests.cli_here import WouldRun, cli_here, examples

PROPERTY = examples(60)


def would_run(*args: str) -> RunSpec:
    """The spec of the first run the command would start; fails with the command's output when it refuses."""
    try:
        ran = cli_here(*args)
    except WouldRun as would:
        return would.spec
    raise AssertionError(f"refused: {args} -> {ran.code} {ran.err}")


def refused(*args: str) -> str:
    """The one line the command refused with (exit 2, no traceback, nothing run)."""
    try:
        ran = cli_here(*args)
    except WouldRun as would:
        raise AssertionError(f"accepted: {args} -> {would.spec}") from None
    assert ran.code == 2, (args, ran.code, ran.err)
    assert "Traceback" not in ran.err and "--debug" not in ran.err, ran.err
    lines = ran.lines()
    assert len(lines) == 1 and lines[0].startswith("orchbench: error: "), ran.err
    return lines[0]


# --- every declared option of the built-in strategies, workloads and retry policies --------------------------

# Text options accept any text as far as their type goes; these are values their owners accept too.
TEXT_VALUES = {
    ("workload", "scoring", "url"): ("http://127.0.0.1:9", "http://localhost:9/score"),
    ("workload", "scoring", "path"): ("/score", "/v2/score"),
    ("workload", "scoring", "body"): ("raw", "text"),
    ("workload", "scoring", "score_field"): ("score", "value"),
    ("workload", "scoring", "headers"): ("X-Trace=1", "X-Trace=2;X-Team=a"),
}
STRATEGY_FOR = {"workload": "sequential", "retry": "sequential"}


def declared() -> list[tuple[str, str, str, Option]]:
    """(scope, owner, option name, declaration) of every option the installed plugins declare."""
    registry = get_registry()
    found = []
    for scope, kind in (("strategy", "strategy"), ("workload", "workload"), ("retry", "retry policy")):
        for owner in registry.names(kind):
            for name, option in registry.entries[kind][owner].obj.options.items():
                found.append((scope, owner, name, option))
    return found


def two_values(scope: str, owner: str, name: str, option: Option) -> tuple[str, str]:
    """Two different values the declaration accepts, as a user types them."""
    if option.choices:
        return option.choices[0], option.choices[-1]
    if option.type is bool:
        return "true", "false"
    if option.type is str:
        return TEXT_VALUES[(scope, owner, name)]
    low = option.min if option.min is not None else 0
    high = min(x for x in (option.max, MAX_DURATION_S if option.duration else None, low + 10) if x is not None)
    if option.type is int:
        return str(math.ceil(low)), str(math.floor(high))
    return repr(float(low)), repr(float(high))


def command_for(scope: str, owner: str) -> list[str]:
    """The strategy and flags under which ``owner``'s options apply (anagrams' small case: fast checks)."""
    if scope == "strategy":
        return ["--strategies", owner, "--test-case", "small"]
    if scope == "workload":
        return ["--strategies", "sequential", "-w", owner]
    return ["--strategies", "sequential", "--retry", owner, "--test-case", "small"]


OPTIONS = declared()


def test_every_declared_text_option_has_example_values():
    """The enumeration below covers every option: a new text option needs its two values here."""
    text = {(s, o, n) for s, o, n, opt in OPTIONS if opt.type is str and not opt.choices}
    assert text <= set(TEXT_VALUES), sorted(text - set(TEXT_VALUES))
    assert {opt.type for *_, opt in OPTIONS} >= {bool, int, float, str}


@pytest.mark.parametrize(("scope", "owner", "name", "option"), OPTIONS, ids=[f"{s}:{o}.{n}" for s, o, n, _ in OPTIONS])
def test_sweep_over_every_declared_option(no_runs, scope, owner, name, option):
    """Both values are checked before the first run, and the run gets the first one parsed by its type."""
    first, second = two_values(scope, owner, name, option)
    spec = would_run("sweep", *command_for(scope, owner), "--over", f"{scope}.{name}={first},{second}", "-q")
    given = getattr(spec, f"{scope}_options")[name]
    assert given == option.parse(name, first) and type(given) is option.type


SWEPT = ("seed", "fault_rate", "hang_rate", "crash_rate", "latency_scale", "cpu_ms", "retry", "scenario")


@pytest.mark.parametrize("field", SWEPT)
def test_sweep_over_every_run_option(no_runs, field):
    option = RUN_OPTIONS[field]
    values = {"retry": "fixed,none", "scenario": "fast,none", "seed": "3,4", "latency_scale": "0.5,2"}
    extra = ["--retry", "fixed"] if field == "hang_rate" else []  # hangs need a per-attempt timeout
    given = values.get(field, "0.25,0")
    spec = would_run("sweep", "-s", "sequential", "-t", "small", *extra, "--over", f"{option.key}={given}", "-q")
    assert getattr(spec, field) == option.value.parse(field, given.split(",")[0])


@pytest.mark.parametrize(
    ("over", "fragments"),
    [
        (["-s", "asyncio", "--over", "adaptive=true,maybe"], ["--over adaptive=maybe", "adaptive", "true or false"]),
        (["-s", "threads", "--over", "workers=1,2.5"], ["--over workers=2.5", "whole number", "from 1 to 4096"]),
        (["-s", "threads", "--over", "workers=4,0"], ["--over workers=0", "below its minimum 1"]),
        (["-s", "sequential", "--over", "fault-rate=0.1,1.5"], ["--fault-rate '1.5'", "from 0 to 1"]),
        (["-s", "sequential", "--over", "seed=1,x"], ["--seed 'x'", "whole number"]),
        (["-s", "sequential", "--over", "retry.delay=1,1e9", "--retry", "fixed"], ["longer than a day"]),
        (["-s", "sequential", "--over", "scenario=none,sed"], ["no scenario 'sed'"]),
        (["-s", "sequential", "--over", "seed=1,1"], ["given twice"]),
    ],
)
def test_a_sweep_value_that_does_not_fit_is_refused_before_any_run(no_runs, over, fragments):
    """The last value is the bad one: nothing is measured for the first ones (today: measured, then a crash)."""
    line = refused("sweep", "-t", "small", *over, "-q")
    for fragment in fragments:
        assert fragment in line, line


# --- the property: generated values of every declared type ------------------------------------------------------


def valid_text(option: Option) -> st.SearchStrategy[str]:
    """Values the declaration accepts, written as a user may write them."""
    if option.choices:
        return st.sampled_from(option.choices)
    if option.type is bool:
        words = ["1", "true", "yes", "on", "0", "false", "no", "off"]
        return st.sampled_from(words).flatmap(lambda w: st.sampled_from([w, w.upper(), f" {w} "]))
    low = option.min if option.min is not None else -1e6
    high = option.max if option.max is not None else 1e6
    if option.duration:
        high = min(high, MAX_DURATION_S)
    if option.type is int:
        return st.integers(math.ceil(low), math.floor(min(high, 2**40))).map(str)
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(repr)


def invalid_text(option: Option) -> st.SearchStrategy[str]:
    """Values the declaration refuses: of another type, not finite, or out of its bounds."""
    wrong = ["", "x", "maybe", "1.5.2", "0x", "nan", "inf", "-inf", "🙂"]
    if option.type is bool:
        return st.sampled_from([*wrong, "2", "-1", "truth", "y e s"])
    out = []
    if option.min is not None:
        out.append(st.just(repr(option.min - 1) if option.type is float else str(math.ceil(option.min) - 1)))
    high = min(x for x in (option.max, MAX_DURATION_S if option.duration else None, math.inf) if x is not None)
    if math.isfinite(high):
        out.append(st.just(repr(high * 2 + 1) if option.type is float else str(math.floor(high) * 2 + 1)))
    if option.type is int:
        wrong += ["1.5", "1e3"]
    return st.one_of(st.sampled_from(wrong), *out)


TYPED = [o for o in OPTIONS if o[3].type in (bool, int, float)]


@st.composite
def a_value(draw, valid: bool) -> tuple[tuple[str, str, str, Option], str]:
    scope, owner, name, option = draw(st.sampled_from(TYPED))
    return (scope, owner, name, option), draw(valid_text(option) if valid else invalid_text(option))


def set_command(scope: str, owner: str, name: str, text: str) -> list[str]:
    strategy = owner if scope == "strategy" else "sequential"
    where = {"workload": ["-w", owner], "retry": ["--retry", owner, "-t", "small"], "strategy": ["-t", "small"]}
    return ["run", strategy, *where[scope], "--set", f"{scope}.{name}={text}"]


@PROPERTY
@given(a_value(valid=True))
def test_every_valid_value_is_accepted_typed(no_runs, drawn):
    (scope, owner, name, option), text = drawn
    spec = would_run(*set_command(scope, owner, name, text))
    given_value = getattr(spec, f"{scope}_options")[name]
    assert type(given_value) is option.type and given_value == option.parse(name, text)


@PROPERTY
@given(a_value(valid=False))
def test_every_invalid_value_is_refused_with_one_line(no_runs, drawn):
    (scope, owner, name, option), text = drawn
    line = refused(*set_command(scope, owner, name, text))
    assert name in line and f"accepted: {option.accepted()}" in line, line


@PROPERTY
@given(a_value(valid=False), st.booleans())
def test_every_invalid_sweep_value_is_refused_before_any_run(no_runs, drawn, last):
    (scope, owner, name, option), text = drawn
    good = two_values(scope, owner, name, option)[0]
    values = f"{good},{text}" if last else f"{text},{good}"
    if "," in text or not text.strip():
        return  # a comma splits values, a blank one is dropped: not this property's business
    line = refused("sweep", *command_for(scope, owner), "--over", f"{scope}.{name}={values}", "-q")
    assert f"--over {scope}.{name}={text.strip()}" in line and option.accepted() in line, line


# --- the declaration's own words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "raw", "value"),
    [
        (Option(bool), "Yes", True),
        (Option(bool), False, False),
        (Option(int, min=1), " 12 ", 12),
        (Option(int), 3.0, 3),
        (Option(float), "1e-3", 0.001),
        (Option(float), 2, 2.0),
        (Option(str, choices=("raw", "json")), "json", "json"),
    ],
)
def test_values_of_the_declared_type_are_taken(option, raw, value):
    parsed = option.parse("x", raw)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("option", "raw", "fragment"),
    [
        (Option(int), 2.5, "is not a whole number"),  # never silently 2
        (Option(int), True, "is not a whole number"),  # a TOML true is not 1
        (Option(bool), 1, "is not a valid bool"),
        (Option(float), "nan", "is not a finite number"),
        (Option(str), 5, "is not text"),
        (Option(str, choices=("raw", "json")), "xml", "one of raw, json"),
        (Option(float, duration=True, min=0), "1e6", "longer than a day"),
    ],
)
def test_values_of_another_type_are_refused(option, raw, fragment):
    from orchbench.errors import UsageError

    with pytest.raises(UsageError, match="accepted: ") as caught:
        option.parse("x", raw)
    assert fragment in str(caught.value)


# --- real sweeps over one option of each type -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "columns"),
    [
        (["-s", "asyncio", "--over", "adaptive=true,false"], ["adaptive=true", "adaptive=false"]),
        (["-s", "threads", "--over", "workers=1,2"], ["workers=1", "workers=2"]),
        (["-s", "sequential", "--over", "retry=none,fixed"], ["retry=none", "retry=fixed"]),
    ],
)
def test_a_real_sweep_of_a_bool_a_number_and_a_name(tmp_path, args, columns):
    ran = cli_here("sweep", "-w", "calibrate", *args, "-n", "1", "--warmup", "0", "-q")
    assert ran.code == 0, ran.err
    assert all(column in ran.out for column in columns), ran.out
    assert "✗" not in ran.out and "—" not in ran.out, ran.out  # every point measured and ok
    assert list((tmp_path / "results").glob("sweep-calibrate-*.png"))


# --- [tool.orchbench]: every key's value by its option's declared type -------------------------------------------


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    return repr(value)


def with_project(tmp_path, key: str, value: object) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.orchbench]\n{key} = {toml(value)}\n", encoding="utf-8")


PROJECT_VALID = {
    "seed": st.integers(-(2**40), 2**40),
    "fault-rate": st.floats(0, 1),
    "latency-scale": st.floats(0, 100),
    "no-memo": st.booleans(),
    "retry": st.sampled_from(["none", "fixed", "exponential"]),
    "iterations": st.integers(1, 3),
    "format": st.sampled_from(["csv", "json", "markdown"]),
    "set": st.sampled_from([["retry.max_attempts=3"], ["retry.timeout=2.5"]]),
}
PROJECT_INVALID = {
    "seed": st.sampled_from([1.5, "x", True, [1]]),
    "fault-rate": st.one_of(st.floats(1.01, 1e6), st.sampled_from([-0.5, "half", False, math.inf, math.nan])),
    "latency-scale": st.sampled_from([-1, "fast", math.inf]),
    "no-memo": st.sampled_from(["perhaps", 2, 1.0]),
    "iterations": st.sampled_from([1.5, "many", False]),
    "budget": st.sampled_from([0, -3, 2.5]),
    "format": st.sampled_from(["yaml", "", 3]),
    "set": st.sampled_from([[3], [True]]),
}


@PROPERTY
@given(st.sampled_from(sorted(PROJECT_VALID)).flatmap(lambda k: st.tuples(st.just(k), PROJECT_VALID[k])))
def test_every_valid_project_value_is_taken(tmp_path, no_runs, drawn):
    key, value = drawn
    with_project(tmp_path, key, value)
    spec = would_run("compare", "-s", "sequential", "-t", "small", "--warmup", "0", "-q")
    field = {"fault-rate": "fault_rate", "latency-scale": "latency_scale", "seed": "seed", "retry": "retry"}
    if key in field:
        assert getattr(spec, field[key]) == value
    if key == "no-memo":
        assert spec.memo is not value


@PROPERTY
@given(st.sampled_from(sorted(PROJECT_INVALID)).flatmap(lambda k: st.tuples(st.just(k), PROJECT_INVALID[k])))
def test_every_invalid_project_value_is_refused_with_one_line(tmp_path, no_runs, drawn):
    key, value = drawn
    with_project(tmp_path, key, value)
    line = refused("compare", "-s", "sequential", "-t", "small", "--warmup", "0", "-q")
    assert f"pyproject.toml: [tool.orchbench] {key} = " in line and "(accepted: " in line, line


def test_a_project_value_is_checked_only_for_the_command_that_takes_it(tmp_path, no_runs):
    """A bad `format` is compare's problem, not that of a run, which takes no --format."""
    with_project(tmp_path, "format", "yaml")
    would_run("run", "sequential", "-t", "small")


# --- the run options: declared once ------------------------------------------------------------------------------


def test_the_run_options_are_declared_once():
    """RunOptions' fields are the declaration: RUN_OPTIONS reads them, and the command's flags and help, RunSpec's
    fields and defaults and the checks all come from it (a test, so that nothing declared beside it can drift)."""
    import dataclasses

    import typer

    from orchbench.cli.app import build_app
    from orchbench.types import SPEC_OPTIONS

    fields = {f.name: f for f in dataclasses.fields(RunOptions)}
    for name, declared in RUN_OPTIONS.items():
        f = fields[name]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        assert default == ([] if declared.many else declared.value.default), name
    spec_fields = {f.name: f.default for f in dataclasses.fields(RunSpec)}
    for name in SPEC_OPTIONS:
        assert spec_fields[name] == RUN_OPTIONS[name].value.default, name
    compare = typer.main.get_command(build_app(None)).commands["compare"]
    offered = {opt: p for p in compare.params for opt in p.opts}
    for declared in RUN_OPTIONS.values():
        for flag in declared.flags:
            assert offered[flag].help == declared.value.help, flag
