"""Plugin discovery: every entry point of the ``orchbench`` group, built-ins included, through one pluggy manager.

A plugin that fails to import or to register is recorded as a :class:`PluginProblem` and skipped; the others and
the CLI keep working. Set ``ORCHBENCH_PLUGINS`` to a comma-separated list of plugin or distribution names to load
only those besides the built-ins (an empty value loads the built-ins alone).

A plugin may also be a module that is not installed: a Python file or an importable module, named by ``-p/--plugin``
(see :func:`use`), by an entry of ``ORCHBENCH_PLUGINS`` that is a path, or by ``plugins`` in ``[tool.orchbench]``.
It is loaded exactly like an entry point's module, a file under a private module name (see :func:`module_name_for`)
so that a ``statistics.py`` or ``random.py`` never stands in for the standard library's module. A run's RunSpec
carries these names (``plugins``), so every process that rebuilds the run — the run's child, pool workers, Ray
actors — loads them too.

Whatever a plugin's code raises while it loads — ``sys.exit()`` included — is that plugin's problem: recorded, the
plugin skipped. So is a function marked ``@orchbench.hookimpl`` whose name is no hook (a misspelling pluggy's
``check_pending`` would stop at): it would never be called.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy

from orchbench import hookspecs
from orchbench.api import RetryPolicy, Strategy, Workload
from orchbench.errors import UsageError
from orchbench.presets import Preset
from orchbench.support.suggest import did_you_mean

BUILTIN_DISTRIBUTION = "orchbench"
ENV_VAR = "ORCHBENCH_PLUGINS"
KINDS = {
    "strategy": ("orchbench_strategies", Strategy),
    "workload": ("orchbench_workloads", Workload),
    "retry policy": ("orchbench_retry_policies", RetryPolicy),
    "preset": ("orchbench_presets", Preset),  # instances, not classes; after the strategies, whose names they avoid
}


@dataclass(frozen=True)
class Source:
    """Where a plugin comes from."""

    plugin: str
    distribution: str | None
    version: str | None
    origin: str | None = None  # a plugin loaded without a distribution: its file, or "module NAME"

    def __str__(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else self.origin or "unknown distribution"
        return f"plugin {self.plugin!r} ({dist})"


@dataclass(frozen=True)
class Entry:
    """One strategy, workload, retry policy or preset and the plugin that supplied it."""

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
    command_hooks: list[tuple[Source, Callable[..., Any]]] = field(default_factory=list)  # orchbench_commands

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

    def presets(self) -> dict[str, Preset]:
        return {name: entry.obj for name, entry in self.entries["preset"].items()}

    def renamed_presets(self) -> dict[str, str]:
        """Earlier names of presets → their names now."""
        return {old: name for name, entry in self.entries["preset"].items() for old in entry.obj.renamed_from}

    def plugins(self) -> list[Source]:
        seen: dict[str, Source] = {}
        for kind in self.entries.values():
            for entry in kind.values():
                seen.setdefault(entry.source.plugin, entry.source)
        for source, _hook in self.command_hooks:
            seen.setdefault(source.plugin, source)
        return sorted(seen.values(), key=lambda s: s.plugin)


def _source(ep: EntryPoint) -> Source:
    dist = getattr(ep, "dist", None)
    name, version = _dist_identity(dist) if dist is not None else (None, None)
    return Source(ep.name, name, version)


@functools.cache
def _dist_identity(dist: Any) -> tuple[str | None, str | None]:
    """Name and version of a distribution, its metadata parsed once (every entry point of it shares the object)."""
    metadata = dist.metadata
    return metadata["Name"], metadata["Version"]


def _selected(eps: list[EntryPoint]) -> list[EntryPoint]:
    wanted = os.environ.get(ENV_VAR)
    builtins = [ep for ep in eps if _source(ep).distribution == BUILTIN_DISTRIBUTION]
    others = [ep for ep in eps if _source(ep).distribution != BUILTIN_DISTRIBUTION]
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip() and not is_path(n.strip())}
        others = [ep for ep in others if ep.name in names or _source(ep).distribution in names]
    return builtins + sorted(others, key=lambda ep: ep.name)  # built-ins first: they keep their names


def _add(registry: Registry, kind: str, obj: Any, source: Source) -> None:
    base = KINDS[kind][1]
    name = getattr(obj, "name", None)
    if kind == "preset":
        if not isinstance(obj, base) or not isinstance(name, str) or not name:
            registry.problems.append(PluginProblem(source, f"supplied {obj!r}, not a named {base.__name__}"))
            return
        if name in registry.entries["strategy"]:
            owner = registry.entries["strategy"][name].source
            registry.problems.append(
                PluginProblem(source, f"preset {name!r} has the name of a strategy of {owner}; keeping the strategy")
            )
            return
    elif not (isinstance(obj, type) and issubclass(obj, base)) or not isinstance(name, str) or not name:
        registry.problems.append(PluginProblem(source, f"supplied {obj!r}, not a named {base.__name__} subclass"))
        return
    if kind in SELECTED_BY_NAME and not selectable(name):
        registry.problems.append(
            PluginProblem(
                source,
                f"{kind} {name!r} cannot be selected on the command line (a name has no comma, white space or "
                "control character and does not start with '-'); skipped",
            )
        )
        return
    taken = registry.entries[kind].get(name)
    if taken is not None:
        registry.problems.append(
            PluginProblem(source, f"{kind} {name!r} is supplied by both {taken.source} and {source}; keeping the first")
        )
        return
    registry.entries[kind][name] = Entry(kind, name, obj, source)


SELECTED_BY_NAME = ("strategy", "preset")  # named in --strategies a,b and as run's argument


def selectable(name: str) -> bool:
    """Whether a strategy or preset name can be given on the command line: ``--strategies a,b`` splits at commas
    and white space, and a leading ``-`` reads as an option."""
    return name.isprintable() and not name.startswith("-") and not any(c == "," or c.isspace() for c in name)


def is_path(name: str) -> bool:
    """A plugin named by a file (``pipeline.py``, ``./x/p.py``) rather than an importable module (``my.plugin``)."""
    return name.endswith(".py") or os.sep in name or "/" in name


FILE_MODULE_PREFIX = "orchbench_file_"


def module_name_for(path: str | os.PathLike[str]) -> str:
    """The private module name a plugin file is loaded under: its stem, prefixed, and a digest of its absolute path
    (``orchbench_file_pipeline_3f2a9c1e``). No standard-library or installed module has such a name, two files with
    one stem do not collide, and every process that loads the file gives it the same name, so that what it
    defines pickles by reference."""
    resolved = Path(path).resolve()
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in resolved.stem)
    digest = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:8]
    return f"{FILE_MODULE_PREFIX}{stem}_{digest}"


def _imported(name: str) -> Any:
    """The plugin module ``name`` names (a file or a module name), imported."""
    return _import_module(name)[1]


def _import_module(name: str) -> tuple[str, Any]:
    """Import a plugin module from a file (under :func:`module_name_for`) or by its module name."""
    if not is_path(name):
        return name, importlib.import_module(name)
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {name}")
    module_name = module_name_for(path)
    loaded = sys.modules.get(module_name)
    if loaded is not None:  # already loaded in this process (e.g. by the parent before a fork)
        return module_name, loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so that its classes and items pickle by reference, in every process
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module_name, module


def _module_plugins(names: Iterable[str]) -> list[tuple[str, Source]]:
    """(name, source) of each plugin given as a file or module, without duplicates."""
    found: dict[str, Source] = {}
    for name in names:
        if is_path(name):
            key = str(Path(name).resolve())
            found.setdefault(key, Source(Path(name).stem, None, None, key))
        else:
            found.setdefault(name, Source(name, None, None, f"module {name}"))
    return list(found.items())


def plugin_error(exc: BaseException) -> str | None:
    r"""What to report when ``exc`` escaped a plugin's code, or None when it must go on (a real interrupt).

    ``sys.exit()``, ``KeyboardInterrupt`` raised by the plugin itself and other ``BaseException``\ s are the
    plugin's failure like any exception: they must not end the command (``list`` exiting 0 with no output)."""
    from orchbench.support import interrupts

    if isinstance(exc, KeyboardInterrupt) and interrupts.signalled():
        return None
    if isinstance(exc, SystemExit):
        return f"SystemExit: sys.exit({exc.code!r}) was called"
    return f"{type(exc).__name__}: {exc}"


def _no_hooks(module: Any) -> str:
    """What to say of a plugin file or module that implements no hook: nothing of it can be used."""
    defined = [
        f"{kind} {name!r}"
        for value in vars(module).values()
        for kind, (_hook, base) in KINDS.items()
        if isinstance(value, type)
        and issubclass(value, base)
        and value.__module__ == module.__name__
        and isinstance(name := getattr(value, "name", None), str)
    ]
    found = f"its {', '.join(defined)} must be returned" if defined else "what it supplies must be returned"
    return (
        f"implements no orchbench hook, so nothing of it is used: {found} from a hook, e.g. "
        "@orchbench.hookimpl def orchbench_workloads(): return [...]"
    )


def _unknown_hooks(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(plugin name, hook name) of every implementation of a hook orchbench does not declare — what pluggy's
    ``check_pending`` raises for, found all at once so that each plugin's is reported."""
    found = []
    for name, hook in vars(pm.hook).items():
        if name.startswith("_") or hook.has_spec():
            continue
        found += [(impl.plugin_name, name) for impl in hook.get_hookimpls() if not impl.optionalhook]
    return found


def env_plugin_paths() -> list[str]:
    """The entries of ``ORCHBENCH_PLUGINS`` that are paths: files to load besides the selected entry points."""
    return [n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip() and is_path(n.strip())]


def project_selection(names: Iterable[str]) -> list[str]:
    """Which of a project's plugins (``[tool.orchbench] plugins``) load: all of them, unless ``ORCHBENCH_PLUGINS``
    is set — then only those it names (a file by its stem, a module by its name), none when it is empty."""
    wanted = os.environ.get(ENV_VAR)
    if wanted is None:
        return list(names)
    chosen = {n.strip() for n in wanted.split(",") if n.strip()}
    return [n for n in names if (Path(n).stem if is_path(n) else n) in chosen]


_used: list[str] = []


def use(names: Iterable[str]) -> None:
    """Load these plugin files or modules too, in this process (the CLI's ``-p/--plugin`` and ``[tool.orchbench]``).
    Paths are kept absolute, so that a process started elsewhere finds them."""
    for name in names:
        resolved = str(Path(name).resolve()) if is_path(name) else name
        if resolved not in _used:
            _used.append(resolved)


@contextmanager
def command_scope() -> Iterator[None]:
    """The plugins given to :func:`use` inside are this process's only until the block ends (one command of the CLI run
    in-process, e.g. by a test: the next command starts from what was used before it)."""
    before = list(_used)
    try:
        yield
    finally:
        _used[:] = before


def used() -> list[str]:
    """The plugin files and modules this process was asked to load (see :func:`use`), for the RunSpec."""
    return [*_used, *(str(Path(p).resolve()) for p in env_plugin_paths() if str(Path(p).resolve()) not in _used)]


def load_registry(extra: Iterable[str] = ()) -> Registry:
    """Load every selected plugin and gather what each supplies, isolating failures per plugin and hook."""
    registry = Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    sources: dict[str, Source] = {}

    def register(name: str, source: Source, load: Callable[[], Any]) -> None:
        """One plugin under its name; a name taken already, or a plugin that fails to load, is a problem of the
        registry (a broken plugin must not break the others)."""
        if name in sources:
            registry.problems.append(PluginProblem(source, f"plugin name {name!r} is also used by {sources[name]}"))
            return
        try:
            pm.register(load(), name=name)
        except BaseException as exc:
            error = plugin_error(exc)
            if error is None:
                raise
            registry.problems.append(PluginProblem(source, error))
            return
        sources[name] = source

    for ep in _selected(list(entry_points(group=hookspecs.PROJECT))):
        register(ep.name, _source(ep), ep.load)
    for name, source in _module_plugins([*extra, *used()]):
        register(source.plugin, source, functools.partial(_imported, name))
        plugin = pm.get_plugin(source.plugin)
        if plugin is not None and sources.get(source.plugin) is source and not pm.get_hookcallers(plugin):
            registry.problems.append(PluginProblem(source, _no_hooks(plugin)))
    hook_names = [name for name in vars(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_")]
    for plugin_name, hook in _unknown_hooks(pm):
        registry.problems.append(
            PluginProblem(
                sources[plugin_name],
                f"unknown hook {hook!r}{did_you_mean(hook, hook_names)}: orchbench never calls it "
                f"(hooks: {', '.join(sorted(hook_names))})",
            )
        )
    for kind, (hook_name, _base) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():  # in registration order: built-ins first
            source = sources[impl.plugin_name]
            try:
                supplied = list(impl.function())
            except BaseException as exc:
                error = plugin_error(exc)
                if error is None:
                    raise
                registry.problems.append(PluginProblem(source, f"{hook_name}() raised {error}"))
                continue
            for obj in supplied:
                _add(registry, kind, obj, source)
    for impl in pm.hook.orchbench_commands.get_hookimpls():  # called by the command line only (see cli/app.py)
        registry.command_hooks.append((sources[impl.plugin_name], impl.function))
    return registry


def get_registry(extra: Iterable[str] = ()) -> Registry:
    """This process's registry, loaded once per value of ``ORCHBENCH_PLUGINS`` and set of plugin files or modules
    (``extra``: those a RunSpec names, besides the ones this process was asked to :func:`use`)."""
    return _registry_for(os.environ.get(ENV_VAR), tuple(dict.fromkeys([*extra, *used()])))


@functools.cache
def _registry_for(selection: str | None, modules: tuple[str, ...] = ()) -> Registry:
    return load_registry(modules)


def warn_plugin_problems() -> None:
    """One warning line per plugin that failed to load (``orchbench list`` shows them all)."""
    from orchbench.support.console import say

    for problem in get_registry().problems:
        say(f"orchbench: warning: {problem.source}: {problem.error} (see `orchbench list`)")
