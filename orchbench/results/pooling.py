"""Runs are pooled into one row only when they are alike: same interpreter (implementation, version, build), same
commit and dirty state of the project, same orchbench version (see :mod:`orchbench.harness.interpreters`). Runs of one
strategy that differ in any of these become separate rows, each labelled by what tells it apart."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from orchbench.harness.interpreters import describe_identity, differing, identity


def _labels(document: Mapping[str, Any]) -> list[str]:
    found = [slot["strategy"] for slot in document.get("order", [])]
    found += [run.get("label") or run["spec"]["strategy"] for run in document.get("runs", [])]
    return list(dict.fromkeys(found))


def separate(documents: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The documents with the labels of unlike runs made distinct (``asyncio (py 3.12.1)``,
    ``asyncio (1a2b3c4 dirty)``), and a note for each strategy so split. Alike runs keep their labels."""
    seen: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for index, document in enumerate(documents):
        for label in _labels(document):
            seen.setdefault(label, []).append((index, identity(document, label)))
    renames: dict[tuple[int, str], str] = {}
    notes: list[str] = []
    for label, found in seen.items():
        keys = differing([ident for _, ident in found])
        if not keys:
            continue
        for index, ident in found:
            renames[(index, label)] = f"{label} ({describe_identity(ident, keys)})"
        notes.append(f"{label}: runs differ in {', '.join(keys)}, so they are not pooled: one row for each.")
    if not renames:
        return [dict(d) for d in documents], []
    out = []
    for index, document in enumerate(documents):
        copied = copy.deepcopy(dict(document))
        for slot in copied.get("order", []):
            slot["strategy"] = renames.get((index, slot["strategy"]), slot["strategy"])
        for run in copied.get("runs", []):
            label = run.get("label") or run["spec"]["strategy"]
            run["label"] = renames.get((index, label), label)
        baseline = copied["settings"].get("baseline")
        if baseline is not None:
            copied["settings"]["baseline"] = renames.get((index, baseline), baseline)
        out.append(copied)
    return out, notes
