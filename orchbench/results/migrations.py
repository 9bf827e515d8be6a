"""Reading comparison documents of earlier schema versions: each version has one step to the next, applied on load.

The history of the format is in :mod:`orchbench.results.document`. A step takes a parsed document of version N and
returns it as version N + 1 would have written it; :func:`upgrade` chains them up to the current version. Files
are never rewritten: a migrated document lives only in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _workload_renames(workload: Any) -> Mapping[str, str]:
    """The old → new case and scenario names the workload declares (none when it is not installed here)."""
    from orchbench.harness.plugins import get_registry

    entry = get_registry().entries["workload"].get(workload) if isinstance(workload, str) else None
    renamed = getattr(entry.obj, "renamed", None) if entry is not None else None
    return renamed if isinstance(renamed, Mapping) else {}


def _preset_renames() -> Mapping[str, str]:
    """Earlier preset names → their names now, as the installed presets declare them (``Preset.renamed_from``)."""
    from orchbench.harness.plugins import get_registry

    return get_registry().renamed_presets()


def _rename_fields(record: Any, renamed: Mapping[str, str]) -> None:
    """A spec or the settings: its case and scenario under their current names."""
    if isinstance(record, dict):
        for key in ("case", "scenario"):
            if isinstance(record.get(key), str):
                record[key] = renamed.get(record[key], record[key])


def _rename_labels(value: Any, renamed: Mapping[str, str]) -> Any:
    """``value`` with every string and mapping key that is an earlier preset name replaced by the new name."""
    if isinstance(value, str):
        return renamed.get(value, value)
    if isinstance(value, dict):
        return {_rename_labels(k, renamed): _rename_labels(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename_labels(v, renamed) for v in value]
    return value


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 1 named the original exercise's case and scenarios and its preset otherwise: the workload and the
    preset declare their earlier names (``Workload.renamed``, ``Preset.renamed_from``)."""
    settings = doc.get("settings")
    renamed = _workload_renames(settings.get("workload") if isinstance(settings, dict) else None)
    presets = _preset_renames()
    for key in ("settings", "order", "runs"):
        if key in doc:
            doc[key] = _rename_labels(doc[key], presets)
    settings = doc.get("settings")
    if isinstance(settings, dict):
        _rename_fields(settings, renamed)
        specs = settings.get("specs")
        for spec in specs.values() if isinstance(specs, dict) else ():
            _rename_fields(spec, renamed)
    runs = doc.get("runs")
    for run in runs if isinstance(runs, list) else ():
        if isinstance(run, dict):
            _rename_fields(run.get("spec"), renamed)
    return doc


# STEPS[n] turns a document of version n into one of version n + 1.
STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def upgrade(doc: dict[str, Any], version: int, current: int) -> dict[str, Any]:
    """``doc``, written with schema ``version``, as schema ``current`` lays it out."""
    while version < current:
        doc = STEPS[version](doc)
        version += 1
    return doc
