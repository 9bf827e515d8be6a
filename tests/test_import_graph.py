"""The import graph keeps its layers: no circles among orchbench's modules, no arrow from the core up into the
CLI or the built-in strategies and workloads, and the built-in strategies and workloads, like the plugin
distributions under plugins/, written against the public kit only (the façade ``orchbench``; ``orchbench.testing``
from tests): any of them could be a distribution of its own.

Not held yet: no arrow from the core into the command line. The Python API (``orchbench.run``/``compare``,
orchbench/python_api.py) checks its options and builds its runs with the command line's functions
(orchbench/cli/common.py); the options themselves, ``RunOptions``, are declared below both (orchbench/types.py).

An arrow is any import of an orchbench module, wherever it stands: at the top, inside a function (a lazy import
is a dependency all the same) or under ``if TYPE_CHECKING:`` (a type named is a module depended on). Importing a
submodule is an arrow to that submodule only, not to the packages above it.

``python tests/test_import_graph.py`` prints the graph's figures (modules, arrows, upward arrows, circles).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "orchbench"

# The layers above the core, built on it (and on the plugin contract); the core is everything else.
UPPER = ("orchbench.cli", "orchbench.__main__", "orchbench.strategies", "orchbench.workloads")
BUILT_INS = ("orchbench.strategies", "orchbench.workloads")
# What the core may not import today (all of UPPER but the commands: see the module's description).
HELD = tuple(layer for layer in UPPER if layer != "orchbench.cli")
# What a plugin distribution, and a built-in plugin, may import of orchbench (orchbench.testing only from tests).
PUBLIC_KIT = "orchbench"
TESTING_KIT = "orchbench.testing"


# The layers of the package, bottom to top: a module imports from its own layer and those below it, never above.
# The façade (``orchbench/__init__``, the public kit) may re-export from any of them; the built-in strategies and
# workloads stand outside the layers and import the façade only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("orchbench.errors",),
    ("orchbench.support",),
    ("orchbench.runtime",),
    ("orchbench.api", "orchbench.types", "orchbench.hookspecs", "orchbench.presets", "orchbench.simple"),
    ("orchbench.harness",),
    ("orchbench.results",),
    ("orchbench.views",),
    ("orchbench.python_api", "orchbench.pytest_plugin", "orchbench.testing"),
    ("orchbench.cli", "orchbench.__main__"),
)


def layer_of(module: str) -> int | None:
    """The index of ``module``'s layer in :data:`LAYERS`; None for the façade and the built-ins."""
    for index, members in enumerate(LAYERS):
        if any(within(module, member) for member in members):
            return index
    return None


def reaching_up(arrows: Iterable[Arrow]) -> list[Arrow]:
    """Arrows from a layer to one above it."""
    found = []
    for a in arrows:
        source, target = layer_of(a.source), layer_of(a.target)
        if source is not None and target is not None and target > source:
            found.append(a)
    return found


@dataclass(frozen=True)
class Arrow:
    """``source`` imports ``target`` at ``path``:``line``."""

    source: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} -> {self.target}"


def module_name(path: Path, src: Path) -> str:
    """The dotted name of the module in ``path``, a file below the import root ``src``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(src: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` (found below ``src``), by dotted name."""
    return {module_name(path, src): path for path in sorted((src / package).rglob("*.py"))}


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(dotted name, line) for every import in ``tree``; ``from a import b`` yields ``a.b`` (resolved later to
    the module ``a.b`` if there is one, else to ``a``). Relative imports are resolved against ``module``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                anchor = here[: len(here) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield (f"{base}.{alias.name}" if alias.name != "*" else base), node.lineno


def resolve(name: str, modules: Iterable[str]) -> str | None:
    """The module among ``modules`` that importing ``name`` depends on: the longest prefix of it that is one."""
    known = set(modules)
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def arrows_of(path: Path, source: str, modules: dict[str, Path]) -> list[Arrow]:
    """The arrows from the file ``path`` (module ``source``) to any of ``modules``; one per target and line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict[tuple[str, int], Arrow] = {}
    for name, line in imported_names(tree, source, path.name == "__init__.py"):
        target = resolve(name, modules)
        if target is not None and target != source:
            found.setdefault((target, line), Arrow(source, target, path, line))
    return list(found.values())


def package_arrows(modules: dict[str, Path]) -> list[Arrow]:
    return [arrow for source, path in modules.items() for arrow in arrows_of(path, source, modules)]


def graph(arrows: Iterable[Arrow]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for arrow in arrows:
        edges.setdefault(arrow.source, set()).add(arrow.target)
    return edges


def circles(modules: Iterable[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(modules):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def within(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def is_core(module: str) -> bool:
    return not any(within(module, layer) for layer in UPPER)


def upward(arrows: Iterable[Arrow], into: Iterable[str] = UPPER) -> list[Arrow]:
    """Arrows from the core into a layer above it (one of ``into``); the façade re-exports the command line's
    helpers for plugins' own commands (see the module's description)."""
    layers = tuple(into)
    return [
        a
        for a in arrows
        if is_core(a.source)
        and any(within(a.target, layer) for layer in layers)
        and not (a.source == PACKAGE and within(a.target, "orchbench.cli"))
    ]


def plugin_arrows() -> list[Arrow]:
    """Every import of an orchbench module by the plugin distributions under plugins/ (sources and tests)."""
    modules = package_modules()
    found = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        source = str(path.relative_to(ROOT))
        for name, line in imported_names(tree, "", False):
            target = resolve(name, modules)
            if target is not None:
                found.append(Arrow(source, target, path, line))
    return found


def outside_the_kit(arrows: Iterable[Arrow]) -> list[Arrow]:
    """Plugin arrows to anything but the public kit (and, from a plugin's tests, ``orchbench.testing``)."""
    allowed = {PUBLIC_KIT}
    return [
        a
        for a in arrows
        if a.target not in allowed and not (a.target == TESTING_KIT and "tests" in a.path.relative_to(ROOT).parts)
    ]


def builtin_plugin(module: str) -> str | None:
    """The built-in plugin ``module`` belongs to: ``orchbench.strategies`` or one workload's package (None: not a
    built-in's module)."""
    parts = module.split(".")
    if within(module, "orchbench.strategies"):
        return "orchbench.strategies"
    if within(module, "orchbench.workloads"):
        return ".".join(parts[:3])
    return None


def builtin_arrows(arrows: Iterable[Arrow]) -> list[Arrow]:
    """The arrows from a built-in plugin's modules to orchbench outside that plugin."""
    return [a for a in arrows if (own := builtin_plugin(a.source)) is not None and not within(a.target, own)]


def unit(module: str) -> str:
    """The part of the package ``module`` belongs to, for a coarser view: a top-level module or subpackage of
    orchbench, or one built-in workload's package."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[1:2] == ["workloads"] and len(parts) > 2 else parts[:2])


def coarse(arrows: Iterable[Arrow]) -> list[Arrow]:
    """The arrows between different units (see :func:`unit`)."""
    return [Arrow(unit(a.source), unit(a.target), a.path, a.line) for a in arrows if unit(a.source) != unit(a.target)]


@dataclass(frozen=True)
class Figures:
    modules: int
    arrows: int
    upward: int  # distinct (source, target) pairs from the core into UPPER
    upward_into_commands: int
    circles: int
    modules_in_circles: int
    plugin_arrows_outside_kit: int
    builtin_arrows_outside_kit: int


def figures(by_unit: bool = False) -> Figures:
    """The graph's figures, by module or (``by_unit``) by unit."""
    modules: Iterable[str] = package_modules()
    arrows = package_arrows(package_modules())
    if by_unit:
        modules, arrows = {unit(m) for m in modules}, coarse(arrows)
    edges = graph(arrows)
    found = circles(modules, edges)
    return Figures(
        modules=len(list(modules)),
        arrows=sum(len(targets) for targets in edges.values()),
        upward=len({(a.source, a.target) for a in upward(arrows)}),
        upward_into_commands=len({(a.source, a.target) for a in upward(arrows, into=["orchbench.cli"])}),
        circles=len(found),
        modules_in_circles=sum(len(c) for c in found),
        plugin_arrows_outside_kit=len(outside_the_kit(plugin_arrows())),
        builtin_arrows_outside_kit=len(outside_the_kit(builtin_arrows(package_arrows(package_modules())))),
    )


# --- the checks -----------------------------------------------------------------------------------------------


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Top-level, lazy, TYPE_CHECKING, relative and from-package imports are all arrows; a circle is found."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.a import A\n")
    (package / "a.py").write_text("A = 1\ndef f():\n    from pkg.sub import b\n")
    (package / "sub" / "__init__.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    import pkg.c\n")
    (package / "sub" / "b.py").write_text("from ..c import C\nfrom . import d\n")
    (package / "c.py").write_text("C = 1\nimport os\nimport pkg.a\n")
    (package / "sub" / "d.py").write_text("from pkg import sub\n")
    modules = package_modules(tmp_path, "pkg")
    edges = graph(package_arrows(modules))
    assert edges == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub": {"pkg.c"},
        "pkg.sub.b": {"pkg.c", "pkg.sub.d"},
        "pkg.c": {"pkg.a"},
        "pkg.sub.d": {"pkg.sub"},
    }
    assert circles(modules, edges) == [["pkg.a", "pkg.c", "pkg.sub", "pkg.sub.b", "pkg.sub.d"]]
    assert circles(modules, {"pkg": {"pkg.a"}, "pkg.a": {"pkg.c"}}) == []


def test_the_graph_is_the_real_one() -> None:
    """The walk finds the package's modules and the arrows everyone knows are there (an empty graph would pass)."""
    modules = package_modules()
    assert {"orchbench", "orchbench.cli.app", "orchbench.harness.runner", "orchbench.strategies.threads"} <= set(
        modules
    )
    edges = graph(package_arrows(modules))
    assert "orchbench.api" in edges["orchbench"]
    assert any(within(target, "orchbench.cli") for target in edges["orchbench.cli.app"])
    assert upward([Arrow("orchbench.views.terminal", "orchbench.workloads.x", ROOT / "x.py", 1)])
    assert not upward([Arrow("orchbench.cli.run", "orchbench.views.terminal", ROOT / "x.py", 1)])
    assert not upward([Arrow("orchbench.views.terminal", "orchbench.cli.x", ROOT / "x.py", 1)], into=HELD)


def test_no_circles() -> None:
    modules = package_modules()
    found = circles(modules, graph(package_arrows(modules)))
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_core_imports_nothing_above_it() -> None:
    offences = upward(package_arrows(package_modules()), into=HELD)
    assert not offences, "the core imports from a layer above it:\n" + "\n".join(map(str, offences))


def test_the_builtin_plugins_import_only_the_public_kit() -> None:
    """orchbench/strategies/** and orchbench/workloads/** (their commands included) import of orchbench only the
    façade, besides their own modules; no exception is listed."""
    arrows = builtin_arrows(package_arrows(package_modules()))
    assert {a.source for a in arrows} >= {"orchbench.strategies.threads", "orchbench.workloads.scoring"}, (
        "the built-ins' imports of orchbench are not seen: the check would pass on nothing"
    )
    offences = outside_the_kit(arrows)
    assert not offences, "a built-in plugin imports beyond the public kit:\n" + "\n".join(map(str, offences))


def test_the_builtin_check_sees_a_forbidden_import() -> None:
    """A built-in's import of a core module, or of another built-in, is an offence; its own modules and the
    façade are not."""
    here = ROOT / "x.py"
    found = builtin_arrows(
        [
            Arrow("orchbench.workloads.scoring.serve", "orchbench.support.signatures", here, 1),
            Arrow("orchbench.workloads.scoring.serve", "orchbench.workloads.anagrams", here, 2),
            Arrow("orchbench.strategies.hybrid", "orchbench.runtime.limiter", here, 3),
            Arrow("orchbench.strategies.hybrid", "orchbench.strategies.pool", here, 4),
            Arrow("orchbench.workloads.scoring.serve", "orchbench.workloads.scoring.model", here, 5),
            Arrow("orchbench.workloads.scoring", "orchbench", here, 6),
            Arrow("orchbench.views.report", "orchbench.support.console", here, 7),
        ]
    )
    assert [a.line for a in outside_the_kit(found)] == [1, 2, 3]


def test_plugin_distributions_import_only_the_public_kit() -> None:
    arrows = plugin_arrows()
    assert arrows, "no plugin imports orchbench: the check would pass on nothing"
    offences = outside_the_kit(arrows)
    assert not offences, "a plugin imports beyond the public kit:\n" + "\n".join(map(str, offences))


def test_each_layer_imports_only_its_own_and_those_below() -> None:
    modules = package_modules()
    unplaced = [m for m in modules if layer_of(m) is None and m != PACKAGE and not any(within(m, b) for b in BUILT_INS)]
    assert not unplaced, f"modules in no layer (add them to LAYERS or move them into one): {unplaced}"
    offences = reaching_up(package_arrows(modules))
    assert not offences, "a layer imports from one above it:\n" + "\n".join(map(str, offences))


def test_the_layer_check_sees_an_arrow_up() -> None:
    assert reaching_up([Arrow("orchbench.harness.runner", "orchbench.views.terminal", ROOT / "x.py", 1)])
    assert reaching_up([Arrow("orchbench.support.console", "orchbench.api", ROOT / "x.py", 1)])
    assert not reaching_up([Arrow("orchbench.views.terminal", "orchbench.results.stats", ROOT / "x.py", 1)])
    assert not reaching_up([Arrow("orchbench", "orchbench.cli.common", ROOT / "x.py", 1)])  # the façade


if __name__ == "__main__":  # python tests/test_import_graph.py [-v]: the figures, by module and by unit
    for view, found in (("by module", figures()), ("by unit", figures(by_unit=True))):
        print(f"{view}: " + ", ".join(f"{field.replace('_', ' ')} {value}" for field, value in vars(found).items()))
    if "-v" in sys.argv[1:]:
        modules = package_modules()
        arrows = package_arrows(modules)
        for arrow in upward(arrows):
            print(f"upward  {arrow}")
        for circle in circles(modules, graph(arrows)):
            print(f"circle  {' <-> '.join(circle)}")
        for arrow in outside_the_kit(plugin_arrows()):
            print(f"plugin  {arrow}")
        for arrow in outside_the_kit(builtin_arrows(arrows)):
            print(f"builtin {arrow}")
