"""Verification without a known answer: recorded references, value-by-value differences, agreement across runs.

A reference file (schema ``orchbench.reference/1``) holds one careful run's output with what defines it: the
workload, the input's digest and the workload options that change the answer::

    {"schema": "orchbench.reference/1", "workload": "scoring", "input": "1k", "input_digest": "…",
     "options": {"path": "", "body": "raw", …}, "output": {…}, "created": "…", "recorded_with": {…}}
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchbench.errors import UsageError

REFERENCE_SCHEMA = "orchbench.reference/1"
MAX_REFERENCE_BYTES = 256 * 2**20
SHOWN_DIFFERENCES = 5


def canonical(value: Any) -> Any:
    """The value as JSON would give it back (tuples → lists, keys → strings), so live and saved outputs compare."""
    return json.loads(json.dumps(value, sort_keys=True, default=list))


def input_digest(raw: Any) -> str:
    """A fingerprint of a workload's raw input (text, or items of any kind: those JSON cannot hold by their repr)."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=_plain).encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    return repr(value)


def differences(expected: Any, actual: Any, limit: int = SHOWN_DIFFERENCES) -> tuple[int, list[dict[str, Any]]]:
    """How many values differ between two outputs (compared leaf by leaf), and the first ``limit`` of them as
    ``{"where": "scores[3]", "expected": 17, "actual": 412}``."""
    found: list[dict[str, Any]] = []
    count = 0

    def walk(where: str, a: Any, b: Any) -> None:
        nonlocal count
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(f"{where}.{key}" if where else str(key), a.get(key), b.get(key))
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                walk(f"{where}[{i}]", a[i] if i < len(a) else None, b[i] if i < len(b) else None)
        elif a != b:
            count += 1
            if len(found) < limit:
                found.append({"where": where or "output", "expected": a, "actual": b})

    walk("", canonical(expected), canonical(actual))
    return count, found


def describe(count: int, first: list[dict[str, Any]]) -> str:
    """``2 values differ (scores[3]: 17 expected, 412 actual; …)``."""
    shown = "; ".join(f"{d['where']}: {_short(d['expected'])} expected, {_short(d['actual'])} actual" for d in first)
    more = ", …" if count > len(first) else ""
    return f"{count:,} value{'s' if count != 1 else ''} differ ({shown}{more})"


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- recorded references ---------------------------------------------------------------------------------------


def answer_options(workload: Any) -> dict[str, Any]:
    """The resolved options of a workload instance that change its output."""
    return {key: workload.options.get(key) for key in type(workload).answer_options}


def load_reference(path: str | Path) -> dict[str, Any]:
    """A reference file, read bounded and checked; one UsageError line when unusable."""
    from orchbench.harness.filecheck import parse_json, read_bounded

    data = read_bounded(path, MAX_REFERENCE_BYTES, "a reference file")  # a regular file, never read whole
    try:
        doc = parse_json(path, data, "a reference file")
    except UsageError as exc:
        raise UsageError(f"{path}: not a reference file ({str(exc).removeprefix(f'{path}: ')})") from None
    if not isinstance(doc, dict) or doc.get("schema") != REFERENCE_SCHEMA:
        raise UsageError(
            f"{path}: not a reference file (schema {REFERENCE_SCHEMA} expected; write one with "
            "`orchbench reference record`)"
        )
    for key, kind in (("workload", str), ("input_digest", str), ("options", dict)):
        if not isinstance(doc.get(key), kind):
            raise UsageError(f"{path}: a malformed reference file (field {key!r} is {_short(doc.get(key))})")
    if doc.get("output") is None:  # a run checked against nothing would pass as unverified: refuse it instead
        raise UsageError(
            f"{path}: a malformed reference file (field 'output' is {'null' if 'output' in doc else 'missing'}: "
            "a reference holds the output of a complete run)"
        )
    return doc


def check_reference(doc: dict[str, Any], path: str | Path, workload: Any, raw: Any) -> None:
    """Refuse, with one line, a reference recorded for another workload, input or answer-defining option."""
    if doc["workload"] != workload.name:
        raise UsageError(f"{path}: a reference of workload {doc['workload']!r}, not {workload.name!r}")
    if doc["input_digest"] != input_digest(raw):
        raise UsageError(
            f"{path}: recorded for another input ({doc.get('input')!r}, digest "
            f"{doc['input_digest'][:12]}), not this one (digest {input_digest(raw)[:12]})"
        )
    ours = canonical(answer_options(workload))
    for key, value in ours.items():
        if key in doc["options"] and doc["options"][key] != value:
            raise UsageError(f"{path}: recorded with {key}={doc['options'][key]!r}, this run has {key}={value!r}")


# -- agreement ---------------------------------------------------------------------------------------------------


@dataclass
class Disagreement:
    strategy: str
    other: str  # a strategy, or "itself" when its own runs differ
    count: int
    first: list[dict[str, Any]]

    def describe(self) -> str:
        whom = "its own other runs" if self.other == "itself" else self.other
        return f"{self.strategy} disagrees with {whom}: {describe(self.count, self.first)}"


@dataclass
class Agreement:
    """Whether the complete outputs of every strategy are equal, and if not who differs from whom, and where."""

    strategies: list[str]
    consensus: list[str] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.disagreements

    def summary(self) -> str:
        if self.agree:
            n = len(self.strategies)
            return f"all {n} strategies agree on the output" if n > 1 else "only one strategy had a complete output"
        lines = [d.describe() for d in self.disagreements]
        if not self.consensus:
            lines.insert(0, "no majority output")
        return "; ".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategies": self.strategies,
            "consensus": self.consensus,
            "summary": self.summary(),
            "disagreements": [vars(d) for d in self.disagreements],
        }


def agreement(outputs: dict[str, list[Any]]) -> Agreement:
    """Compare the complete outputs of each strategy (several runs each): a strategy whose runs differ from one
    another disagrees with itself; the output most strategies share is the consensus, and every strategy with
    another one disagrees with a strategy of the consensus. Without a single most-shared output, every strategy
    disagrees."""
    keyed = {name: [json.dumps(canonical(o), sort_keys=True) for o in runs] for name, runs in outputs.items() if runs}
    result = Agreement(sorted(keyed))
    typical: dict[str, str] = {}
    for name, keys in keyed.items():
        counts = Counter(keys)
        typical[name] = counts.most_common(1)[0][0]
        if len(counts) > 1:
            odd = next(k for k in keys if k != typical[name])
            n, first = differences(json.loads(typical[name]), json.loads(odd))
            result.disagreements.append(Disagreement(name, "itself", n, first))
    shared = Counter(typical.values()).most_common()
    if not shared:
        return result
    top = shared[0][0] if len(shared) == 1 or shared[0][1] > shared[1][1] else None
    result.consensus = sorted(n for n, k in typical.items() if k == top) if top is not None else []
    for name in sorted(typical):
        if top is not None and typical[name] == top:
            continue
        other = (
            result.consensus[0] if result.consensus else next(n for n in sorted(typical) if typical[n] != typical[name])
        )
        n, first = differences(json.loads(typical[other]), json.loads(typical[name]))
        result.disagreements.append(Disagreement(name, other, n, first))
    return result
