"""Plugin discovery: every entry point of the ``orchbench`` group, built-ins included, through one pluggy manager.

A plugin that fails to import or to register is recorded as a :class:`PluginProblem` and skipped; the others and
the CLI keep working. Set ``ORCHBENCH_PLUGINS`` to a comma-separated list of plugin or distribution names to load
only those besides the built-ins (an empty value loads the built-ins alone).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from orchbench import hookspecs
from orchbench.api import RetryPolicy, Strategy, Workload
from orchbench.errors import UsageError
from orchbench.suggest import did_you_mean

BUILTIN_DISTRIBUTION = "orchbench"
ENV_VAR = "ORCHBENCH_PLUGINS"
KINDS = {
    "strategy": ("orchbench_strategies", Strategy),
    "workload": ("orchbench_workloads", Workload),
    "retry policy": ("orchbench_retry_policies", RetryPolicy),
}


@dataclass(frozen=True)
class Source:
    """Where a plugin comes from."""

    plugin: str
    distribution: str | None
    version: str | None

    def __str__(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "unknown distribution"
        return f"plugin {self.plugin!r} ({dist})"


@dataclass(frozen=True)
class Entry:
    """One strategy, workload or retry policy and the plugin that supplied it."""

    kind: str
    name: str
    obj: Any
    source: Source

    @property
    def description(self) -> str:
        return getattr(self.obj, "description", "") or ""


@dataclass(frozen=True)
class PluginProblem:
    """A plugin, or part of one, that could not be used."""

    source: Source
    error: str


@dataclass
class Registry:
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    problems: list[PluginProblem] = field(default_factory=list)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.entries[kind][name].obj
        except KeyError:
            known = self.entries[kind]
            listing = ", ".join(sorted(known)) or "none installed"
            raise UsageError(f"unknown {kind} {name!r}{did_you_mean(name, known)} (available: {listing})") from None

    def strategy(self, name: str) -> type[Strategy]:
        return self.get("strategy", name)

    def workload(self, name: str) -> type[Workload]:
        return self.get("workload", name)

    def retry_policy(self, name: str) -> type[RetryPolicy]:
        return self.get("retry policy", name)

    def plugins(self) -> list[Source]:
        seen: dict[str, Source] = {}
        for kind in self.entries.values():
            for entry in kind.values():
                seen.setdefault(entry.source.plugin, entry.source)
        return sorted(seen.values(), key=lambda s: s.plugin)


def _source(ep: EntryPoint) -> Source:
    dist = getattr(ep, "dist", None)
    name, version = _dist_identity(dist) if dist is not None else (None, None)
    return Source(ep.name, name, version)


@functools.lru_cache(maxsize=None)
def _dist_identity(dist: Any) -> tuple[str | None, str | None]:
    """Name and version of a distribution, its metadata parsed once (every entry point of it shares the object)."""
    metadata = dist.metadata
    return metadata["Name"], metadata["Version"]


def _selected(eps: list[EntryPoint]) -> list[EntryPoint]:
    wanted = os.environ.get(ENV_VAR)
    builtins = [ep for ep in eps if _source(ep).distribution == BUILTIN_DISTRIBUTION]
    others = [ep for ep in eps if _source(ep).distribution != BUILTIN_DISTRIBUTION]
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip()}
        others = [ep for ep in others if ep.name in names or _source(ep).distribution in names]
    return builtins + sorted(others, key=lambda ep: ep.name)  # built-ins first: they keep their names


def _add(registry: Registry, kind: str, obj: Any, source: Source) -> None:
    base = KINDS[kind][1]
    name = getattr(obj, "name", None)
    if not (isinstance(obj, type) and issubclass(obj, base)) or not isinstance(name, str) or not name:
        registry.problems.append(PluginProblem(source, f"supplied {obj!r}, not a named {base.__name__} subclass"))
        return
    taken = registry.entries[kind].get(name)
    if taken is not None:
        registry.problems.append(PluginProblem(
            source, f"{kind} {name!r} is supplied by both {taken.source} and {source}; keeping the first"))
        return
    registry.entries[kind][name] = Entry(kind, name, obj, source)


def load_registry() -> Registry:
    """Load every selected plugin and gather what each supplies, isolating failures per plugin and hook."""
    registry = Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    sources: dict[str, Source] = {}
    for ep in _selected(list(entry_points(group=hookspecs.PROJECT))):
        source = _source(ep)
        if ep.name in sources:
            registry.problems.append(PluginProblem(source, f"plugin name {ep.name!r} is also used by {sources[ep.name]}"))
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must not break the others
            registry.problems.append(PluginProblem(source, f"{type(exc).__name__}: {exc}"))
            continue
        sources[ep.name] = source
    for kind, (hook_name, _base) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():  # in registration order: built-ins first
            source = sources[impl.plugin_name]
            try:
                supplied = list(impl.function())
            except Exception as exc:
                registry.problems.append(PluginProblem(source, f"{hook_name}() raised {type(exc).__name__}: {exc}"))
                continue
            for obj in supplied:
                _add(registry, kind, obj, source)
    return registry


def get_registry() -> Registry:
    """This process's registry, loaded once per value of ``ORCHBENCH_PLUGINS``."""
    return _registry_for(os.environ.get(ENV_VAR))


@functools.cache
def _registry_for(selection: str | None) -> Registry:
    return load_registry()
