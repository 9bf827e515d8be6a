"""The comparison file: a versioned, self-describing JSON document written atomically.

Layout of schema ``orchbench.comparison/2``::

    {"schema": "orchbench.comparison/2", "created": "2025-01-31T12:00:00Z",
     "environment": {python, implementation, python_build, python_debug, gil_enabled, os, platform, machine,
                     cpu_model, cpu_count, memory_total, packages: {name: version}, event_loop,
                     plugins: [{name, distribution, version}], git_commit, git_dirty,
                     project: the pyproject.toml whose [tool.orchbench] was used, or null},
     "settings": {workload, case, input, input_digest, scenario, seed, iterations, warmup, baseline, unit,
                  specs: {label: spec}, interpreters: {label: interpreter}, server, fairness, agreement, command,
                  complete, ...},
     "order": [{round, strategy, warmup}, ...],
     "runs": [RunResult.to_dict() + {"round", "warmup"}, ...]}

The environment is stored once per document, not per run. The format is plain JSON, never pickle, so a file
from another machine or another orchbench version is read safely or refused with one clear line.

Format history (every earlier version is read, migrated on load by :mod:`orchbench.results.migrations`; a newer one is
refused with one line):

- **1** — the first file (``compare``, ``benchmark``, ``sweep``): environment, settings (workload, case, input,
  scenario, seed, iterations, warmup, baseline, unit, specs, complete, command), order, runs. Without a new number
  it later gained fields that readers treat as optional: ``environment.event_loop``; ``settings.server``,
  ``fairness`` (with the tuning probes) and ``agreement``; per run ``elapsed_s``, ``cpu_granularity_s``,
  ``peak_rss_bound``, ``base_rss``, ``end_uss``, ``measure_notes``, ``hedges``, ``hedges_won``, ``mismatch``,
  ``strategy_stats``, ``in_flight``, ``resolved_options``; per spec ``plugins``, ``reference_path``, ``python``;
  ``environment.python_build``, ``python_debug``, ``gil_enabled``, ``git_dirty``; ``settings.input_digest`` and
  ``interpreters`` (what each strategy label ran on, see :mod:`orchbench.harness.interpreters`). The original
  exercise's case and scenarios were named ``seed``, its preset ``seed-design``.
  Later still, ``environment.project`` (optional, in every version).
- **2** — the original exercise's case and scenarios are named ``original``, its preset ``original-design``
  (``seed`` is only the random seed). Migrating a version 1 file renames them wherever it names them: the
  settings, each run's spec and label, the planned order (case and scenario as the workload declares in
  ``Workload.renamed``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchbench.errors import UsageError
from orchbench.harness.environment import environment
from orchbench.harness.filecheck import read_bounded
from orchbench.results import migrations
from orchbench.support.atomic import write_atomic
from orchbench.support.redact import scrub
from orchbench.types import RunResult

SCHEMA_FAMILY = "orchbench.comparison"
SCHEMA_VERSION = 2
SCHEMA = f"{SCHEMA_FAMILY}/{SCHEMA_VERSION}"


def machine_label(env: Mapping[str, Any]) -> str:
    """A short description of the machine for titles: CPU model and core count."""
    cpu = env.get("cpu_model") or "unknown CPU"
    cores = env.get("cpu_count")
    return f"{cpu}, {cores} cores" if cores else str(cpu)


def run_record(planned: Any, result: RunResult) -> dict[str, Any]:
    """One entry of ``runs``: the result's fields plus the round and warm-up flag of its planned slot."""
    slot = planned.to_dict() if hasattr(planned, "to_dict") else dict(planned)
    record = result.to_dict()
    record["round"] = slot["round"]
    record["warmup"] = bool(slot["warmup"])
    return record


def make_document(
    settings: Mapping[str, Any],
    order: Iterable[Any],
    runs: Iterable[tuple[Any, RunResult]],
    *,
    env: Mapping[str, Any] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """Assemble a comparison document from the settings, the planned order and (planned, result) pairs."""
    moment = (created or datetime.now(UTC)).astimezone(UTC)
    return scrub(  # URL credentials and secret header values are neither shown nor saved
        {
            "schema": SCHEMA,
            "created": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "environment": dict(env) if env is not None else environment(),
            "settings": dict(settings),
            "order": [p.to_dict() if hasattr(p, "to_dict") else dict(p) for p in order],
            "runs": [run_record(planned, result) for planned, result in runs],
        }
    )


def _json_safe(value: Any) -> Any:
    """Non-finite floats become null (JSON has no NaN); tuples become lists; anything else is left to json."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def save(path: str | os.PathLike[str], document: Mapping[str, Any], *, exclusive: bool = False) -> Path:
    """Write the document atomically: a temp file beside the target, fsync, then rename over it; return its path.

    With ``exclusive`` an existing file is never replaced: the document takes the next free name instead (see
    :func:`orchbench.support.atomic.write_atomic`). A failure at any point (including a value that cannot be serialised)
    leaves any previous file intact and no temp file behind, and raises UsageError.
    """

    def write(handle: Any) -> None:
        json.dump(_json_safe(scrub(document)), handle, indent=2, allow_nan=False)  # no secret is saved
        handle.write("\n")

    return write_atomic(path, write, "results", exclusive=exclusive)


class NotSaved(UsageError):
    """The results could not be written where asked; ``fallback`` is where they were saved instead (or None)."""

    def __init__(self, message: str, fallback: Path | None) -> None:
        super().__init__(message)
        self.fallback = fallback


def save_or_fallback(
    path: str | os.PathLike[str], document: Mapping[str, Any], *, exclusive: bool = False
) -> tuple[Path | None, NotSaved | None]:
    """:func:`save`; when that fails, save to a new file in the temporary directory instead. Returns the path
    written (None when nothing could be) and, after a failure, the error to report — it names the fallback."""
    try:
        return save(path, document, exclusive=exclusive), None
    except UsageError as exc:
        first = str(exc)
    import tempfile

    name = Path(path).name if Path(path).suffix == ".json" else "compare.json"
    fallback = Path(tempfile.gettempdir(), f"orchbench-{name}")
    try:
        written = save(fallback, document, exclusive=True)
    except UsageError as exc:
        return None, NotSaved(f"{first}; nor to the temporary directory ({exc}): the results are lost", None)
    return written, NotSaved(f"{first}; saved to {written} instead", written)


def _malformed(path: Path, what: str) -> UsageError:
    return UsageError(f"{path}: malformed orchbench comparison: {what}")


def _validate(path: Path, data: dict[str, Any]) -> None:
    """Every part the reports read is there and has the type and range its schema says (see
    :mod:`orchbench.harness.filecheck`), so a damaged file is one line, never a crash or a figure shown from bad
    data."""
    from orchbench.harness.filecheck import check_comparison

    for key, kind in (("settings", dict), ("order", list), ("runs", list), ("environment", dict)):
        if not isinstance(data.get(key), kind):
            raise _malformed(path, f'"{key}" is missing or not a {"list" if kind is list else "object"}')
    for i, slot in enumerate(data["order"]):
        if not (isinstance(slot, dict) and {"strategy", "round", "warmup"} <= set(slot)):
            raise _malformed(path, f"order[{i}] is not a planned run (strategy, round, warmup)")
    for i, run in enumerate(data["runs"]):
        spec = run.get("spec") if isinstance(run, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("strategy"), str):
            raise _malformed(path, f"runs[{i}] names no strategy")
        if "wall_s" not in run:
            raise _malformed(path, f"runs[{i}] has no wall_s")
    check_comparison(path, data)


MAX_FILE_BYTES = 64 * 2**20  # far above any comparison orchbench writes (a run's record is kilobytes)


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a comparison document; anything else raises UsageError with one line saying what is wrong."""
    from orchbench.harness.filecheck import parse_json

    source = Path(path)
    try:
        text = read_bounded(source, MAX_FILE_BYTES, "a comparison file").decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{source}: not a UTF-8 text file, so not an orchbench comparison") from None
    data = parse_json(source, text, "an orchbench comparison")
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_FAMILY + "/"):
        raise UsageError(f'{source}: not an orchbench comparison file (expected "schema": "{SCHEMA}")')
    version = _version(source, schema)
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"{source}: written by a newer orchbench (schema {schema}); this one reads versions 1 to "
            f"{SCHEMA_VERSION}: upgrade orchbench to read it"
        )
    data = migrations.upgrade(data, version, SCHEMA_VERSION)
    data["schema"] = SCHEMA
    _validate(source, data)
    return scrub(data)  # a file saved before secrets were redacted shows none either


def _version(source: Path, schema: str) -> int:
    """The version number of ``orchbench.comparison/N``; anything but a positive integer N is one error line."""
    number = schema.removeprefix(SCHEMA_FAMILY + "/")
    if not (number.isascii() and number.isdigit() and int(number) >= 1):
        raise UsageError(f"{source}: unknown comparison schema {schema!r}; this orchbench reads {SCHEMA!r}")
    return int(number)


def default_path(results_dir: str | os.PathLike[str], workload: str, now: datetime | None = None) -> Path:
    """``<results_dir>/compare-<workload>-<UTC timestamp>.json``, suffixed -2, -3, ... if that name is taken."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", workload).strip("-.") or "workload"
    stem = f"compare-{safe}-{moment.strftime('%Y%m%dT%H%M%SZ')}"
    candidate = Path(results_dir) / f"{stem}.json"
    counter = 2
    while candidate.exists():
        candidate = Path(results_dir) / f"{stem}-{counter}.json"
        counter += 1
    return candidate


def measured_runs(documents: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> dict[str, list[RunResult]]:
    """Measured (non-warm-up) runs per strategy, pooled across documents, strategies in first-planned order."""
    docs = [documents] if isinstance(documents, Mapping) else list(documents)
    grouped: dict[str, list[RunResult]] = {}
    for doc in docs:
        for slot in doc.get("order", []):
            if not slot.get("warmup"):
                grouped.setdefault(slot["strategy"], [])
        for record in doc["runs"]:
            if not record.get("warmup"):
                result = RunResult.from_dict(record)
                grouped.setdefault(result.name, []).append(result)
    return {name: runs for name, runs in grouped.items() if runs}
