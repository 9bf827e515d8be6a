"""What a saved file holds, checked before anything is shown from it: a results file, a baseline, a reference.

A file is input like any other. :func:`parse_json` reads its text as strict JSON (no ``NaN``/``Infinity``, nested
no deeper than :data:`MAX_DEPTH`); :func:`check_comparison` checks a comparison document field by field against
what the schema says: counts are whole numbers ≥ 0, successes within the items, times and sizes finite and ≥ 0,
rates within 0–1, every field of its declared type. A file that does not fit is one UsageError line naming the
file, the field and the value.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchbench.errors import UsageError

MAX_DEPTH = 64  # far deeper than any file orchbench writes (a run's record nests 5 levels), far below the stack


def parse_json(source: str | Path, text: str | bytes, what: str) -> Any:
    """``text`` as strict JSON; anything else (including NaN, Infinity, a number too long, or nesting deeper than
    :data:`MAX_DEPTH`) is one UsageError line naming ``source``."""

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if too_deep(text, MAX_DEPTH):  # before parsing: json's own parser recurses per level
            raise UsageError(f"{source}: JSON nested too deeply (more than {MAX_DEPTH} levels), so not {what}")
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise UsageError(f"{source}: JSON nested too deeply to be {what}") from None
    except (ValueError, UnicodeError) as exc:  # a NaN, a number of thousands of digits, bytes that are not text
        raise UsageError(f"{source}: not JSON ({exc})") from None


_ONLY_BRACKETS = {code: None for code in range(128) if chr(code) not in "[]{}"}  # outside strings JSON is ASCII
_INNERMOST = re.compile(r"\[\]|\{\}")


def too_deep(text: str, limit: int) -> bool:
    """Whether the JSON ``text`` nests lists and objects deeper than ``limit``: its strings removed (escapes
    first, then every other piece between quotes), only brackets kept, and the innermost pairs removed once per
    level — each step a pass of a string method or a regular expression, not a Python loop per value."""
    outside = "".join(text.replace("\\\\", "").replace('\\"', "").split('"')[::2])
    brackets = outside.translate(_ONLY_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        fewer = _INNERMOST.sub("", brackets)
        if len(fewer) == len(brackets):  # brackets that do not pair: the parser will say where
            return False
        brackets = fewer
    return bool(brackets) and _INNERMOST.search(brackets) is not None


# --- the kinds of value a field may hold ------------------------------------------------------------------------


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _positive_count(value: Any) -> bool:
    return type(value) is int and value >= 1


def _amount(value: Any) -> bool:
    """A time in seconds, a size or a percentage: finite and ≥ 0."""
    return type(value) in (int, float) and math.isfinite(value) and value >= 0


def _rate(value: Any) -> bool:
    return type(value) in (int, float) and 0 <= value <= 1


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return type(value) is int


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _mapping(value: Any) -> bool:
    return isinstance(value, dict)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _mappings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _anything(value: Any) -> bool:
    return True


Kind = tuple[Callable[[Any], bool], str]
COUNT: Kind = (_count, "a whole number ≥ 0")
POSITIVE: Kind = (_positive_count, "a whole number ≥ 1")
AMOUNT: Kind = (_amount, "a finite number ≥ 0")
RATE: Kind = (_rate, "a number from 0 to 1")
NUMBER: Kind = (_number, "a finite number")
INTEGER: Kind = (_integer, "a whole number")
TEXT: Kind = (_text, "text")
FLAG: Kind = (_flag, "true or false")
MAPPING: Kind = (_mapping, "an object")
TEXTS: Kind = (_texts, "a list of texts")
MAPPINGS: Kind = (_mappings, "a list of objects")
ANY: Kind = (_anything, "anything")

# Every field of a run's record (RunResult) and what it may hold; None is allowed where the field is optional.
RUN_FIELDS: dict[str, tuple[Kind, bool]] = {
    "spec": (MAPPING, False),
    "label": (TEXT, True),
    "items": (COUNT, False),
    "unique_items": (COUNT, False),
    "succeeded": (COUNT, False),
    "failed": (COUNT, False),
    "complete": (FLAG, False),
    "correct": (FLAG, True),
    "output_digest": (TEXT, True),
    "reference_digest": (TEXT, True),
    "mismatch": (MAPPING, True),
    "wall_s": (AMOUNT, False),
    "startup_s": (AMOUNT, False),
    "prepare_s": (AMOUNT, False),
    "limit_s": (AMOUNT, True),
    "attempts": (COUNT, False),
    "retries": (COUNT, False),
    "hedges": (COUNT, False),
    "hedges_won": (COUNT, False),
    "give_ups": (COUNT, False),
    "latency_p50_s": (AMOUNT, True),
    "latency_p95_s": (AMOUNT, True),
    "latency_p99_s": (AMOUNT, True),
    "elapsed_s": (AMOUNT, True),
    "cpu_s": (AMOUNT, True),
    "cpu_granularity_s": (AMOUNT, True),
    "cpu_percent": (AMOUNT, True),
    "service_cpu_s": (AMOUNT, True),
    "cores": (POSITIVE, True),
    "peak_rss": (COUNT, True),
    "peak_rss_bound": (COUNT, True),
    "base_rss": (COUNT, True),
    "peak_uss": (COUNT, True),
    "end_uss": (COUNT, True),
    "sample_period_s": (AMOUNT, True),
    "measure_notes": (TEXTS, False),
    "failures": (MAPPINGS, False),
    "workload_stats": (MAPPING, False),
    "strategy_stats": (MAPPING, False),
    "in_flight": (COUNT, True),
    "time_account": (MAPPING, True),
    "resolved_options": (MAPPING, False),
    "error": (TEXT, True),
    "output": (ANY, True),
    "schema": (TEXT, False),
    "round": (COUNT, False),
    "warmup": (FLAG, False),
}
SETTINGS_FIELDS: dict[str, tuple[Kind, bool]] = {
    "workload": (TEXT, True),
    "case": (TEXT, True),
    "scenario": (TEXT, True),
    "input": (TEXT, True),
    "baseline": (TEXT, True),
    "unit": (TEXT, True),
    "iterations": (COUNT, True),
    "warmup": (COUNT, True),
    "complete": (FLAG, True),
    "command": (TEXT, True),
    "specs": (MAPPING, True),
    "server": (TEXT, True),
    "fairness": (MAPPING, True),
    "agreement": (MAPPING, True),
    "input_digest": (TEXT, True),
    "interpreters": (MAPPING, True),
}
ENVIRONMENT_FIELDS: dict[str, tuple[Kind, bool]] = {
    "cpu_count": (POSITIVE, True),
    "memory_total": (POSITIVE, True),
    "packages": (MAPPING, True),
    "plugins": (MAPPINGS, True),
    "python_build": (TEXT, True),
    "git_dirty": (FLAG, True),
}
PROBE_FIELDS: dict[str, tuple[Kind, bool]] = {
    "options": (MAPPING, False),
    "wall_s": (AMOUNT, True),
    "elapsed_s": (AMOUNT, False),
    "ok": (FLAG, False),
    "error": (TEXT, True),
    "in_flight": (COUNT, True),
    "phase": (TEXT, True),
}


def _spec_fields() -> dict[str, tuple[Kind, bool]]:
    """A spec's run options as their declarations say (rates within 0–1, scales ≥ 0), its other fields by type."""
    from orchbench.types import RUN_OPTIONS, SPEC_OPTIONS

    kinds: dict[str, tuple[Kind, bool]] = {}
    for name in SPEC_OPTIONS:
        option = RUN_OPTIONS[name].value
        if option.type is float:
            kinds[name] = (RATE if option.max == 1.0 else AMOUNT, True)
        else:
            kinds[name] = ({int: INTEGER, str: TEXT, bool: FLAG}[option.type], option.default is None)
    kinds.update(
        strategy=(TEXT, False),
        retry_options=(MAPPING, False),
        strategy_options=(MAPPING, False),
        workload_options=(MAPPING, False),
        started=(MAPPING, False),
        plugins=(TEXTS, False),
        cache=(FLAG, False),
        memo=(FLAG, False),
        reference_path=(TEXT, True),
        in_flight_per_process=(POSITIVE, True),
    )
    return kinds


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


class _Checker:
    def __init__(self, source: str | Path, what: str) -> None:
        self.source = source
        self.what = what

    def refuse(self, where: str, value: Any, expected: str) -> UsageError:
        return UsageError(f"{self.source}: {self.what}: {where} is {_shown(value)}, not {expected}")

    def fields(self, where: str, record: Mapping[str, Any], kinds: Mapping[str, tuple[Kind, bool]]) -> None:
        for name, ((fits, expected), optional) in kinds.items():
            if name not in record:
                continue
            value = record[name]
            if value is None and optional:
                continue
            if not fits(value):
                raise self.refuse(f"{where}.{name}" if where else name, value, expected + (" or null" * optional))

    def within(self, where: str, record: Mapping[str, Any], part: str, whole: str) -> None:
        """``record[part]`` ≤ ``record[whole]`` (both already checked as counts)."""
        if isinstance(record.get(part), int) and isinstance(record.get(whole), int) and record[part] > record[whole]:
            raise self.refuse(f"{where}.{part}", record[part], f"at most its {whole} ({record[whole]})")


def check_comparison(source: str | Path, data: Mapping[str, Any]) -> None:
    """Every part of a comparison document (after migration) as its schema says; one UsageError line otherwise."""
    check = _Checker(source, "malformed orchbench comparison")
    check.fields("settings", data["settings"], SETTINGS_FIELDS)
    check.fields("environment", data["environment"], ENVIRONMENT_FIELDS)
    spec_kinds = _spec_fields()
    for label, spec in (data["settings"].get("specs") or {}).items():
        if not isinstance(spec, dict):
            raise check.refuse(f"settings.specs.{label}", spec, "an object")
        check.fields(f"settings.specs.{label}", spec, spec_kinds)
    for i, slot in enumerate(data["order"]):
        check.fields(f"order[{i}]", slot, {"round": (COUNT, False), "warmup": (FLAG, False), "strategy": (TEXT, False)})
    for i, run in enumerate(data["runs"]):
        where = f"runs[{i}]"
        check.fields(where, run, RUN_FIELDS)
        check.fields(f"{where}.spec", run["spec"], spec_kinds)
        check.within(where, run, "unique_items", "items")
        check.within(where, run, "succeeded", "items")
        check.within(where, run, "failed", "items")
        check.within(where, run, "hedges_won", "hedges")
        check.within(where, run, "retries", "attempts")
        if run.get("succeeded", 0) + run.get("failed", 0) > run.get("items", 0):
            raise check.refuse(
                f"{where}.succeeded + failed", run["succeeded"] + run["failed"], f"at most its items ({run['items']})"
            )
    fairness = data["settings"].get("fairness")
    tuning = fairness.get("tuning") if isinstance(fairness, dict) else None
    for label, found in (tuning or {}).items() if isinstance(tuning, dict) else ():
        where = f"settings.fairness.tuning.{label}"
        if not isinstance(found, dict):
            raise check.refuse(where, found, "an object")
        check.fields(where, found, {"cost_s": (AMOUNT, False), "probes": (MAPPINGS, False), "ranges": (MAPPING, False)})
        for j, probe in enumerate(found.get("probes", [])):
            check.fields(f"{where}.probes[{j}]", probe, PROBE_FIELDS)


def read_bounded(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is refused with one UsageError line,
    without reading it whole (``/dev/zero``, a FIFO, a huge or growing file). ``what``: "a comparison file"."""
    source = Path(path)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO must not wait for a writer
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise UsageError(f"{source}: is a directory, not {what}")
        raise UsageError(f"{source}: is a device, pipe or other special file, not {what}")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UsageError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise UsageError(f"{source}: larger than {limit // 2**20} MiB, so not {what}")
    return data
